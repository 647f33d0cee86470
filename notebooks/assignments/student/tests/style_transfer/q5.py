from otter.test_files import test_case

OK_FORMAT = False

name = "q5"
points = 3

@test_case(points=1, hidden=False)
def test_feature_model(feature_model):
    from nst.classroom import checks
    checks.check_feature_model(feature_model)

