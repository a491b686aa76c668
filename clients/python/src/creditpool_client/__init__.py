"""A thin Python client of the creditpool API for an institution's data scientist.

Everything goes through the same HTTP API (``/api/v1``, described at
``/api/openapi.json``); the client only saves the plumbing::

    from creditpool_client import Client

    pool = Client("http://127.0.0.1:8080")
    pool.login("acme.analyst", "…")                 # + one_time_code= or totp_secret=
    pool.upload_table(loans, "loans", sensitivity={"loan_id": "masked"})
    pool.upload_model("linear_score.wat")           # or a .wasm file, or bytes
    job = pool.run("SELECT … FROM loans l JOIN enterprises e ON e.uscc = l.uscc")
    sample = pool.sample(job["id"])                  # a pandas DataFrame, via Parquet
    pool.aggregate(job["id"], group_by=["region"], mean=["risk"])
    pool.evaluate(job["id"], score="risk", label="bad")

Raw rows never leave the sandbox: ``sample`` gives the gate's random sample, and
``aggregate`` and ``evaluate`` its threshold-checked figures. Every refusal raises
:class:`CreditpoolError` with the API's code, message and field.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import struct
import time
from typing import Any

import requests

__all__ = ["Client", "CreditpoolError", "JobFailed", "totp"]
__version__ = "0.1.0"

#: States a job ends in.
FINAL_STATES = ("succeeded", "failed", "cancelled")


class CreditpoolError(Exception):
    """A refusal by the API: its HTTP status and the error of its body."""

    def __init__(self, status: int, error: dict[str, Any]):
        self.status = status
        self.code = error.get("code", "unknown")
        self.message = error.get("message", "")
        self.field = error.get("field")
        self.details = error.get("details")
        self.request_id = error.get("request_id")
        where = f" ({self.field})" if self.field else ""
        super().__init__(f"{status} {self.code}{where}: {self.message}")


class JobFailed(Exception):
    """A job that ended other than succeeded; ``job`` is its last state."""

    def __init__(self, job: dict[str, Any]):
        self.job = job
        super().__init__(f"job {job.get('id')} {job.get('state')}: {job.get('error') or ''}".rstrip(": "))


def totp(secret: str, at: float | None = None, digits: int = 6, step: int = 30) -> str:
    """The current code of a TOTP secret (base32, RFC 6238), as an authenticator shows it."""
    key = base64.b32decode(secret.upper() + "=" * (-len(secret) % 8))
    counter = int((time.time() if at is None else at) // step)
    mac = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    code = (struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF) % 10**digits
    return str(code).zfill(digits)


class Client:
    """A session with the API of one creditpool server, as one institution's user."""

    def __init__(self, base_url: str, token: str | None = None, timeout: float = 60.0):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.token = token
        self.http = requests.Session()
        self._institution_id: str | None = None

    # -- plumbing ---------------------------------------------------------------------

    def request(self, method: str, path: str, *, expect_json: bool = True, **kwargs: Any) -> Any:
        """Sends a request to ``/api/v1{path}``; the decoded JSON answer (or the raw
        response with ``expect_json=False``). Raises CreditpoolError on a refusal."""
        headers = kwargs.pop("headers", {})
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        response = self.http.request(
            method, f"{self.base_url}/api/v1{path}", headers=headers, timeout=self.timeout, **kwargs
        )
        if response.status_code >= 400:
            try:
                error = response.json()["error"]
            except (ValueError, KeyError, TypeError):
                error = {"code": "http_error", "message": response.text[:500]}
            raise CreditpoolError(response.status_code, error)
        if not expect_json:
            return response
        return response.json() if response.content else None

    @property
    def institution_id(self) -> str:
        """The institution of the signed-in user."""
        if self._institution_id is None:
            me = self.me()
            if not me.get("institution_id"):
                raise CreditpoolError(403, {"code": "forbidden", "message": "this user belongs to no institution"})
            self._institution_id = me["institution_id"]
        return self._institution_id

    def _job_path(self, job_id: str, action: str = "") -> str:
        return f"/institutions/{self.institution_id}/jobs/{job_id}{action}"

    # -- identity ---------------------------------------------------------------------

    def login(
        self,
        username: str,
        password: str,
        one_time_code: str | None = None,
        totp_secret: str | None = None,
    ) -> dict[str, Any]:
        """Signs in; a second factor is given as a code, or computed from its secret."""
        body: dict[str, Any] = {"username": username, "password": password}
        if totp_secret and not one_time_code:
            one_time_code = totp(totp_secret)
        if one_time_code:
            body["one_time_code"] = one_time_code
        self.token = None
        session = self.request("POST", "/sessions", json=body)
        self.token = session["token"]
        self._institution_id = None
        return session

    def logout(self) -> None:
        """Ends the session."""
        self.request("DELETE", "/sessions/current")
        self.token = None

    def me(self) -> dict[str, Any]:
        """Who is signed in."""
        return self.request("GET", "/me")

    # -- data and jobs ----------------------------------------------------------------

    def tables(self) -> dict[str, Any]:
        """The granted catalog tables and the own and shared tables, with their columns."""
        return self.request("GET", f"/institutions/{self.institution_id}/tables")

    def upload_table(
        self,
        frame: Any,
        name: str,
        sensitivity: dict[str, str] | None = None,
        types: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """Uploads a pandas DataFrame as an own table (sent as Parquet, its column types
        kept); ``sensitivity`` tags columns ``public``, ``masked`` or ``secret``, and
        ``types`` converts columns on arrival (``utf8``, ``int64``, ``float64``,
        ``boolean``, ``date32``). Returns the table and what its reading found."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        buffer = io.BytesIO()
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), buffer)
        params = {"name": name, "format": "parquet"}
        if sensitivity:
            params["sensitivity"] = ",".join(f"{c}:{s}" for c, s in sensitivity.items())
        if types:
            params["types"] = ",".join(f"{c}:{t}" for c, t in types.items())
        return self.request(
            "POST",
            f"/institutions/{self.institution_id}/own-tables",
            params=params,
            data=buffer.getvalue(),
            headers={"Content-Type": "application/octet-stream"},
        )

    def upload_model(self, model: bytes | str) -> dict[str, Any]:
        """Uploads a WebAssembly model (ABI v1): the module's bytes, or the path of a
        ``.wasm`` or ``.wat`` file. It becomes a SQL function of the institution's jobs
        under its manifest's name."""
        if isinstance(model, str):
            with open(model, "rb") as file:
                data, text = file.read(), model.endswith(".wat")
        else:
            data, text = model, not model.startswith(b"\0asm")
        return self.request(
            "POST",
            f"/institutions/{self.institution_id}/models",
            data=data,
            headers={"Content-Type": "text/plain" if text else "application/wasm"},
        )

    def submit(self, sql: str) -> dict[str, Any]:
        """Submits a job; SQL that cannot run is refused at once (with its position)."""
        return self.request("POST", f"/institutions/{self.institution_id}/jobs", json={"sql": sql})

    def job(self, job_id: str) -> dict[str, Any]:
        """A job's state, report and result schema."""
        return self.request("GET", self._job_path(job_id))

    def wait(self, job_id: str, timeout: float = 600.0, poll: float = 0.5) -> dict[str, Any]:
        """Waits for a job to end; returns it if it succeeded, else raises JobFailed."""
        deadline = time.monotonic() + timeout
        while True:
            job = self.job(job_id)
            if job["state"] in FINAL_STATES:
                if job["state"] != "succeeded":
                    raise JobFailed(job)
                return job
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} still {job['state']} after {timeout} s")
            time.sleep(poll)

    def run(self, sql: str, timeout: float = 600.0) -> dict[str, Any]:
        """Submits a job and waits for it to succeed."""
        return self.wait(self.submit(sql)["id"], timeout=timeout)

    def cancel(self, job_id: str) -> dict[str, Any]:
        """Cancels a queued or running job."""
        return self.request("POST", self._job_path(job_id, "/cancel"))

    # -- what leaves the sandbox --------------------------------------------------------

    def sample(self, job_id: str) -> Any:
        """The gate's random sample of a job's result as a pandas DataFrame (fetched as
        Parquet, so types are kept); asking again gives the same rows."""
        import pyarrow.parquet as pq

        response = self.request(
            "POST", self._job_path(job_id, "/sample"), params={"format": "parquet"}, expect_json=False
        )
        return pq.read_table(io.BytesIO(response.content)).to_pandas()

    def aggregate(
        self,
        job_id: str,
        group_by: list[str],
        sum: list[str] | None = None,  # noqa: A002 - the API's name
        mean: list[str] | None = None,
    ) -> dict[str, Any]:
        """Threshold-checked group counts, sums and means of a job's result."""
        body = {"group_by": group_by, "sum": sum or [], "mean": mean or []}
        return self.request("POST", self._job_path(job_id, "/aggregate"), json=body)

    def evaluate(self, job_id: str, score: str, label: str) -> dict[str, Any]:
        """A score column's AUC, Gini, KS and deciles against a 0/1 label column."""
        return self.request("POST", self._job_path(job_id, "/evaluation"), json={"score": score, "label": label})

    def usage(self) -> dict[str, Any]:
        """What the institution has used of each quota, and what is left."""
        return self.request("GET", f"/institutions/{self.institution_id}/usage")
