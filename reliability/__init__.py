"""Long-running reliability checks (`make reliability`): each module here is
runnable as `python -m reliability.<name> [--quick]` and prints its figures;
`python -m reliability.run` runs them all. The fast variants of the same
checks are in tests/."""
