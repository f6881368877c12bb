"""The `berth` command and the operations it runs: `commands` (parse, confirm, print) over
`operations` (preview, diff, preflight, up/destroy, promote, rollback, envs, dr, loadtest)."""
