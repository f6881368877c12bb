"""app tests room: the bootstrap reads RDS's managed master secret without botocore: Signature Version 4
exactly as botocore signs, EKS Pod Identity's credentials, and a real round trip to moto's server
holding the secret RDS made for an instance created with ManageMasterUserPassword."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from shipments.bootstrap import BootstrapError, target_from_env
from shipments.secretsmanager import AwsError, Credentials, credentials, endpoint, get_secret_string, region_of, sign_v4

NOW = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)


@pytest.mark.parametrize("token", [None, "session-token/with+symbols=="])
def test_the_signature_is_botocores(monkeypatch: pytest.MonkeyPatch, token: str | None) -> None:
    import botocore.auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials as BotoCredentials

    url = "https://secretsmanager.eu-west-1.amazonaws.com/"
    body = b'{"SecretId": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!db-1"}'
    headers = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "secretsmanager.GetSecretValue"}
    ours = sign_v4("POST", url, headers, body, region="eu-west-1", service="secretsmanager",
                   creds=Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token), now=NOW)

    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: NOW.replace(tzinfo=None))
    request = AWSRequest(method="POST", url=url, data=body, headers=dict(headers))
    botocore.auth.SigV4Auth(BotoCredentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token),
                            "secretsmanager", "eu-west-1").add_auth(request)
    assert ours["Authorization"] == request.headers["Authorization"]
    assert ours["X-Amz-Date"] == request.headers["X-Amz-Date"] == "20260304T050607Z"
    assert ours.get("X-Amz-Security-Token") == request.headers.get("X-Amz-Security-Token")
    assert "wJalrXUtnFEMI" not in repr(Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"))


def test_arns_and_endpoints() -> None:
    assert region_of("arn:aws:secretsmanager:eu-central-1:123456789012:secret:rds!db-abc-XyZ") == "eu-central-1"
    with pytest.raises(ValueError, match="not a Secrets Manager secret ARN"):
        region_of("arn:aws:s3:::bucket")
    assert endpoint("eu-central-1", {}) == "https://secretsmanager.eu-central-1.amazonaws.com"
    assert endpoint("cn-north-1", {}) == "https://secretsmanager.cn-north-1.amazonaws.com.cn"
    assert endpoint("eu-central-1", {"AWS_ENDPOINT_URL_SECRETS_MANAGER": "http://127.0.0.1:5/"}) == "http://127.0.0.1:5"


@pytest.fixture
def pod_identity_agent(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """EKS Pod Identity's agent as a pod sees it: credentials for the projected token, else 401."""
    token = tmp_path / "eks-pod-identity-token"
    token.write_text("projected.jwt.token\n")

    class Agent(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path != "/v1/credentials" or self.headers.get("Authorization") != "projected.jwt.token":
                self.send_response(401)
                self.end_headers()
                return
            body = json.dumps({"AccessKeyId": "ASIAPOD", "SecretAccessKey": "pod-secret", "Token": "pod-token",
                               "Expiration": "2030-01-01T00:00:00Z"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Agent)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/v1/credentials", token
    finally:
        server.shutdown()


def test_credentials_come_from_pod_identity_first(pod_identity_agent: tuple[str, Path]) -> None:
    uri, token = pod_identity_agent
    env = {"AWS_CONTAINER_CREDENTIALS_FULL_URI": uri, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": str(token),
           "AWS_ACCESS_KEY_ID": "static", "AWS_SECRET_ACCESS_KEY": "static"}
    assert credentials(env) == Credentials("ASIAPOD", "pod-secret", "pod-token")
    token.write_text("someone else's token")
    with pytest.raises(AwsError) as refused:
        credentials(env)
    assert refused.value.retryable  # the agent may not be ready yet: the bootstrap waits and asks again
    assert credentials({"AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b"}) == Credentials("a", "b", None)
    with pytest.raises(AwsError, match="no AWS credentials") as none:
        credentials({})
    assert not none.value.retryable


@pytest.mark.slow
def test_the_master_secret_rds_made_is_read_from_moto() -> None:
    import certifi

    from embedded_cloud import EmbeddedCloud

    cloud = EmbeddedCloud.serve()
    try:
        rds = cloud.client("rds", "us-east-1")
        db = rds.create_db_instance(
            DBInstanceIdentifier="bootstrap-source", DBInstanceClass="db.t4g.medium", Engine="postgres",
            AllocatedStorage=20, MasterUsername="berth_admin", ManageMasterUserPassword=True,
        )["DBInstance"]
        arn = db["MasterUserSecret"]["SecretArn"]
        env = {"AWS_ENDPOINT_URL_SECRETS_MANAGER": str(cloud.endpoint_url), "AWS_ACCESS_KEY_ID": "testing",
               "AWS_SECRET_ACCESS_KEY": "testing"}
        value = json.loads(get_secret_string(arn, creds=credentials(env), environ=env))
        assert value["username"] == "berth_admin" and len(value["password"]) >= 8
        missing = arn.replace("rds!", "nothing!")
        with pytest.raises(AwsError) as gone:
            get_secret_string(missing, creds=credentials(env), environ=env)
        assert gone.value.code == "ResourceNotFoundException" and not gone.value.retryable
        # The bootstrap's own reading of it: the master's credentials, and TLS to the primary verified
        # against a CA bundle fetched from RDS_CA_BUNDLE_URL (certifi's, a file, stands in for RDS's).
        bundle = Path(certifi.where()).as_uri()
        target = target_from_env({**env, "MASTER_SECRET_ARN": arn, "DATABASE_HOST": "primary.example",
                                  "RDS_CA_BUNDLE_URL": bundle}, deadline=0)
        assert (target.user, target.password, target.host, target.port) == (
            "berth_admin", value["password"], "primary.example", 5432)
        assert target.ssl is not None and target.ssl.check_hostname and value["password"] not in repr(target)
        with pytest.raises(BootstrapError, match="cannot read the master secret"):
            target_from_env({**env, "MASTER_SECRET_ARN": missing, "DATABASE_HOST": "h"}, deadline=0)
    finally:
        cloud.close()

