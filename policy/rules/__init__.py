"""Policy room: the rules, one module per service. Importing a module registers its rules."""

from policy.rules import (  # noqa: F401 - imported for their registrations
    cloudfront,
    eks,
    elasticache,
    kms,
    kubernetes,
    logs,
    network,
    ordering,
    rds,
    s3,
    scaling,
    stack,
    teardown,
    versions,
)
