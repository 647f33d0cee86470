from otter.test_files import test_case

OK_FORMAT = False

name = "q3"
points = 3

@test_case(points=1, hidden=False)
def test_style_loss(style_loss):
    from nst.classroom import checks
    checks.check_style_loss(style_loss)

