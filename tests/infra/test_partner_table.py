"""`make up` prints the partner directory: who each partner is, the protocol Tradelane speaks to it, how its
tracking events come, and where its API is."""

from devstack.up import partner_table
from tradelane.connections import directory


def test_every_partner_is_listed_with_its_protocol_tracking_and_address() -> None:
    header, *lines = partner_table("http://127.0.0.1:8100").splitlines()
    assert header.split() == ["partner", "kind", "protocol", "tracking", "base", "URL"]
    rows = {cells[0]: cells for cells in (line.split() for line in lines)}
    assert list(rows) == list(directory().connections)
    assert rows["ups"] == ["ups", "carrier", "karrio", "(ups)", "poll", "http://127.0.0.1:8100/ups"]
    assert rows["roadie"] == ["roadie", "last_mile", "karrio", "(roadie)", "poll", "http://127.0.0.1:8100/roadie"]
    assert rows["roadlink"] == ["roadlink", "carrier", "tradelane", "webhook",
                                "http://127.0.0.1:8100/partners/roadlink"]
    assert rows["bluewave"][2] == "dcsa" and rows["bluewave"][-1] == "http://127.0.0.1:8100/dcsa/bluewave"
