from watchd.cli.emulator_cmd import DEMO_CREDENTIALS
from watchd.emulator.world import demo_world


def test_the_credentials_the_emulator_prints_are_every_user_of_its_demo_world():
    world = demo_world()
    printed = {email: key for email, key, _what in DEMO_CREDENTIALS}
    assert printed == {user.email: user.api_key for user in world.users.values()}
    assert all(world.authenticate(email, key) is not None for email, key in printed.items())
