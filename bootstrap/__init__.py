"""Bootstrap room: the account foundation (`berth bootstrap`), a Pulumi project of its own in this
directory (`Pulumi.yaml`: berth-bootstrap, one stack per AWS account)."""
