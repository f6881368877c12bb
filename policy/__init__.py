"""Policy room: the berth CrossGuard pack (rules in policy/rules/, offline evaluator, CLI adapter)."""
