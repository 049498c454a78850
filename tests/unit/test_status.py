from pgcluster.node import status


def test_ask_keeps_the_address_while_the_host_answers_and_drops_it_when_not():
    server = status.serve(0, lambda: {"host": "localhost", "role": "primary"})
    port = server.server_address[1]
    try:
        assert status.ask("localhost", port) == {"host": "localhost", "role": "primary"}
        assert status._addresses["localhost"][0] == "127.0.0.1"
    finally:
        server.shutdown()
        server.server_close()
    assert status.ask("localhost", port, timeout=0.5) is None
    assert "localhost" not in status._addresses
