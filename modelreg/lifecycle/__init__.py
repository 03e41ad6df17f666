"""The lifecycle engine: the one place where a version's status, rollout,
deprecation, reviews, benchmark records and fallbacks change.

    status       the Status enum, its named sets, the allowed transitions
    gates        unmet_gates(policy, evidence, actor): may M@V be approved?
    production   the production-default rule and rollout weights
    authority    who may do what (roles), and the separation of duties
    evidence     recording reviews and benchmark runs; loading the evidence
    transitions  promote, canary, rollout, rollback, deprecate, cancel,
                 reject, retire
    registration new versions
    fallbacks    ordered fallbacks, cycles, what a target resolves to

Importing this package is cheap: the modules that touch the database
import the store themselves.
"""
