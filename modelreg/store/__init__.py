"""Storage: SQLModel tables, engine creation, transactions and migrations.

Importing this package is cheap; the database stack is imported by the
submodules, which only the commands that touch the database load.
"""
