"""The environment layer: settings, composition, and operations on stacks."""
