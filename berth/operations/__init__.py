"""Operations room: what the `berth` commands do (preview, diff, preflight, up/destroy, promote,
rollback, review environments, disaster recovery, load tests), with no printing of their own.

Operations read stack files and stack outputs, run the program in the embedded cloud and call the
Pulumi Automation API; they never import a component. Each takes a Printer and a Confirm from the
command that calls it, and refuses with an OpsError whose message says what and how to fix it.
"""
