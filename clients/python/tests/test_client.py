"""The Python client against a real server (issue 17, item 10): run by
`creditpool/tests/server/python_client.rs`, which starts the server, opens an
institution and writes the fixture this reads (CLIENT_FIXTURE)."""

import json
import os

import pandas as pd
import pytest

from creditpool_client import Client, CreditpoolError

FIXTURE = json.loads(open(os.environ["CLIENT_FIXTURE"], encoding="utf-8").read())


@pytest.fixture(scope="module")
def pool():
    client = Client(FIXTURE["base_url"])
    client.login(FIXTURE["username"], FIXTURE["password"])
    return client


def test_a_data_scientist_goes_from_a_dataframe_to_a_sample_aggregates_and_an_evaluation(pool):
    assert pool.institution_id == FIXTURE["institution_id"]

    # Own data from a DataFrame, as a data scientist has it: the amount as floats.
    loans = pd.read_parquet(FIXTURE["loans"])
    loans["amount"] = loans["amount"].astype("float64")
    uploaded = pool.upload_table(loans, "loans", sensitivity={"loan_id": "masked"})
    assert uploaded["table"]["name"] == "loans"
    assert uploaded["table"]["rows"] == len(loans)
    columns = {c["name"] for c in uploaded["table"]["columns"]}
    assert set(loans.columns) <= columns

    # A model, from its text format.
    model = pool.upload_model(FIXTURE["model"])
    assert model["name"] == "linear_score"

    # A job, submitted and waited for.
    job = pool.run(FIXTURE["sql"], timeout=300)
    assert job["state"] == "succeeded"
    rows = job["report"]["rows_out"]
    assert rows >= 100

    # The gate's sample, as a DataFrame with its types: the same rows on every request,
    # the masked loan number a pseudonym.
    sample = pool.sample(job["id"])
    assert isinstance(sample, pd.DataFrame)
    assert 1 <= len(sample) <= min(100, rows // 100)
    assert {"loan_id", "bad", "risk"} <= set(sample.columns)
    assert sample["loan_id"].str.startswith("ps_").all()
    assert pd.api.types.is_float_dtype(sample["risk"])
    pd.testing.assert_frame_equal(sample, pool.sample(job["id"]))

    # Threshold-checked figures.
    figures = pool.aggregate(job["id"], group_by=["bad"], mean=["amount"])
    assert figures["groups"], figures
    assert all(g["subjects"] >= figures["k"] for g in figures["groups"])
    assert figures["release_id"] and figures["fingerprint"]
    metrics = pool.evaluate(job["id"], score="risk", label="bad")
    assert 0.0 <= metrics["auc"] <= 1.0
    assert len(metrics["deciles"]) == 10

    usage = pool.usage()
    assert usage["statistical_releases_per_day"]["used"] >= 2


def test_refusals_raise_with_the_apis_code_field_and_position(pool):
    with pytest.raises(CreditpoolError) as refused:
        pool.submit("SELECT uscc\nFROM no_such_table")
    assert refused.value.status == 422
    assert refused.value.code == "invalid_field"
    assert refused.value.field == "sql"
    assert refused.value.details == {"line": 2, "column": 6}

    stranger = Client(FIXTURE["base_url"])
    with pytest.raises(CreditpoolError) as refused:
        stranger.login(FIXTURE["username"], "not the password at all")
    assert refused.value.status == 401
    with pytest.raises(CreditpoolError) as refused:
        stranger.tables()
    assert refused.value.status == 401
