from otter.test_files import test_case

OK_FORMAT = False

name = "q7"
points = 3

@test_case(points=1, hidden=False)
def test_train_step(train_step):
    from nst.classroom import checks
    checks.check_train_step(train_step)

