from otter.test_files import test_case

OK_FORMAT = False

name = "q1"
points = 3

@test_case(points=1, hidden=False)
def test_gram_matrix(gram_matrix):
    from nst.classroom import checks
    checks.check_gram_matrix(gram_matrix)

