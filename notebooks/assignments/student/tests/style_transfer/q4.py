from otter.test_files import test_case

OK_FORMAT = False

name = "q4"
points = 2

@test_case(points=1, hidden=False)
def test_total_variation_loss(total_variation_loss):
    from nst.classroom import checks
    checks.check_total_variation_loss(total_variation_loss)

