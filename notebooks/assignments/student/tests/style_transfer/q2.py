from otter.test_files import test_case

OK_FORMAT = False

name = "q2"
points = 2

@test_case(points=1, hidden=False)
def test_content_loss(content_loss):
    from nst.classroom import checks
    checks.check_content_loss(content_loss)

