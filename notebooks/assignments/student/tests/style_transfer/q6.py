from otter.test_files import test_case

OK_FORMAT = False

name = "q6"
points = 2

@test_case(points=1, hidden=False)
def test_style_content_loss(style_content_loss):
    from nst.classroom import checks
    checks.check_style_content_loss(style_content_loss)

