"""End-to-end smoke test: publish one item, a subscriber receives it."""

from conftest import connect, make_item, run


def test_publish_reaches_subscriber(daemon):
    async def scenario():
        c = await connect(daemon, topics="monde/afrique")
        sub = await c.recv_type("subscribed")
        assert sub["topics"] == ["monde/afrique"]
        item = make_item(urgency=2)
        r = daemon.publish(item, ["monde/afrique"])
        assert r.status == 202, r
        receipt = r.json()
        msg = await c.recv_type("item", timeout=1.0)
        assert msg["id"] == receipt["id"]
        assert msg["kind"] == "new"
        assert msg["topics"] == ["monde/afrique"]
        assert msg["urgency"] == 2
        assert msg["item"]["uri"] == item["uri"]
        await c.close()

    run(scenario())
