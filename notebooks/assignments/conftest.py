"""The assignment notebooks are not run by nbval: tests/test_classroom.py runs them with assertions of its own
(a teacher version passes its tests, a student version says "not done yet", submissions grade as expected)."""

collect_ignore_glob = ["*/*.ipynb"]
