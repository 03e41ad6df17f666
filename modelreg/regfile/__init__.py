"""Registry as code: the whole registry as one TOML document, and back.

    document  the canonical document (format 1): built from the database, written as TOML
    reader    a file -> the same canonical document, validated (exit 2 on anything wrong)
    diff      a file's document against the database's, per model / version / field / record
    importer  a file -> a plan -> applied through the lifecycle engine, as the importing actor

Evidence (reviews, benchmark runs, approvals, history) is exported so a file
shows what the registry holds, but an import never accepts it: it is
recorded only by the commands that produce it. Moving a registry verbatim
between databases is `modelreg db copy`.
"""
