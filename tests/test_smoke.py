"""The home page and the basics respond."""


def test_home_page_shows_the_initiative_and_a_call_to_join(client):
    response = client.get("/")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "12 million" in html.lower()
    assert 'href="/signup"' in html


def test_healthz_checks_the_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}
