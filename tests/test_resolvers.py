from ocr2_kedro.resolvers import env_list


def test_env_list_splits_commas_and_drops_empty_items(monkeypatch):
    monkeypatch.setenv("OCR2_TEST_LIST", " http://a:8000/v1, ,http://b:8000/v1,")
    assert env_list("OCR2_TEST_LIST") == ["http://a:8000/v1", "http://b:8000/v1"]
    monkeypatch.delenv("OCR2_TEST_LIST")
    assert env_list("OCR2_TEST_LIST") == []
    assert env_list("OCR2_TEST_LIST", "x,y") == ["x", "y"]
