"""Credentials planted in every place a user can put them never reach a file mteval writes,
its stdout or its stderr (issue 14, defect 1; SECURITY.md "Secrets").

Places: the environment (OPENAI_API_KEY and a *_TOKEN variable), `--model-args api_key=`,
userinfo in `base_url` (model and judge), the judge's api_key and a custom header
(`X-Custom-Sig`) in a jury file. Files searched: the run directories (run.json,
samples.jsonl), the response cache (SQLite file and its journal), the leaderboard site
(pages, JSON, CSV and every file and folder name), plus everything printed by `run`,
`judge`, `show`, `show --json` and `leaderboard build`.
"""

from __future__ import annotations

import base64
import json
import urllib.parse
from pathlib import Path

import pytest
import yaml

from mteval.cli import main
from tests.servers import FakeLLMServer

MODEL_KEY = "sk-modelPLANTED0123456789abcdef"
URL_USER = "planteduser"
URL_PASS = "urlpassPLANTED77"
JUDGE_KEY = "judgekeyPLANTED5566"
JUDGE_USER = "judgeuserPLANTED"
JUDGE_PASS = "judgepassPLANTED88"
SIG = "sigPLANTEDabcdef123"
ENV_KEY = "envopenaiPLANTED4242"
ENV_TOKEN = "envtokenPLANTED9999"
SECRETS = [MODEL_KEY, URL_PASS, JUDGE_KEY, JUDGE_PASS, SIG, ENV_KEY, ENV_TOKEN, f"{URL_USER}:{URL_PASS}", f"{JUDGE_USER}:{JUDGE_PASS}"]


def _b64(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


def _forms(secret: str) -> list[bytes]:
    """The secret as it could appear in a file: raw, URL-quoted, JSON-escaped, or inside
    a Basic authorization header."""
    forms = {secret, urllib.parse.quote(secret, safe=""), json.dumps(secret)[1:-1]}
    if ":" in secret:
        forms.add(_b64(*secret.split(":", 1)))
    return [f.encode() for f in forms]


def _leaks(root: Path) -> list[str]:
    found = []
    for path in sorted(root.rglob("*")):
        name = str(path.relative_to(root))
        for secret in SECRETS:
            if secret in name:
                found.append(f"{secret!r} in the path {name}")
        if path.is_file():
            data = path.read_bytes()
            for secret in SECRETS:
                if any(form in data for form in _forms(secret)):
                    found.append(f"{secret!r} in {name}")
    return found


@pytest.fixture
def planted_env(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", ENV_KEY)
    monkeypatch.setenv("MY_GATEWAY_TOKEN", ENV_TOKEN)
    monkeypatch.setenv("COLUMNS", "250")


def _cli(capfd, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capfd.readouterr()
    return code, out, err


def test_planted_credentials_never_reach_files_or_output(tmp_path, capfd, planted_env):
    with FakeLLMServer() as server:
        host = f"127.0.0.1:{server.port}"
        jury = tmp_path / "jury.yaml"
        jury.write_text(yaml.safe_dump({
            "name": "planted",
            "jurors": [{
                "model": "openai/judge-test",
                "args": {"base_url": f"http://{JUDGE_USER}:{JUDGE_PASS}@{host}/v1", "api_key": JUDGE_KEY,
                         "default_headers": {"X-Custom-Sig": SIG}},
            }],
        }))
        results, cache, site = tmp_path / "results", tmp_path / "cache", tmp_path / "site"
        common = ["--cache-dir", str(cache), "--no-progress"]
        model_args = f"base_url=http://{URL_USER}:{URL_PASS}@{host}/v1,api_key={MODEL_KEY}"
        printed = []
        code, out, err = _cli(capfd, "run", "--tasks", "example/arithmetic", "--limit", "2", "--model", "openai/model-test",
                              "--model-args", model_args, "--jury", str(jury), "--output-dir", str(results), "--run-id", "native", *common)
        assert code == 0, err
        printed += [out, err]
        run_dir = results / "native"
        # the judge really is called (with its header) when a finished run is re-judged
        code, out, err = _cli(capfd, "judge", str(run_dir), "--jury", str(jury), "--judge-def", "rubric",
                              "--output-dir", str(results / "rejudged"), *common[:2])
        assert code == 0, err
        printed += [out, err]
        # a failing endpoint: errors recorded in samples must not quote the URL's password either
        dead = f"base_url=http://{URL_USER}:{URL_PASS}@127.0.0.1:9/v1,api_key={MODEL_KEY}"
        code, out, err = _cli(capfd, "run", "--tasks", "example/arithmetic", "--limit", "1", "--model", "openai/model-test",
                              "--model-args", dead, "--max-attempts", "1", "--timeout", "5", "--output-dir", str(results),
                              "--run-id", "dead", *common)
        printed += [out, err]
        for argv in (["show", str(run_dir)], ["show", str(run_dir), "--json"],
                     ["leaderboard", "build", "--results", str(results), "--out", str(site)]):
            code, out, err = _cli(capfd, *argv)
            assert code == 0, err
            printed += [out, err]

        # the secrets were really used, so finding none written means something
        headers = [h for _, _, h in server.requests]
        assert any(h.get("x-custom-sig") == SIG for h in headers)
        # httpx turns base_url userinfo into Basic auth (it replaces the Bearer key)
        sent = {h.get("authorization") for h in headers}
        assert f"Basic {_b64(URL_USER, URL_PASS)}" in sent and f"Basic {_b64(JUDGE_USER, JUDGE_PASS)}" in sent

    dead_samples = (results / "dead" / "samples.jsonl").read_text()
    assert '"error"' in dead_samples  # the failure was recorded (redacted), not dropped
    manifest = json.loads((run_dir / "run.json").read_text())
    assert manifest["model"]["args"]["base_url"] == f"http://***@{host}/v1"
    assert manifest["jury"]["jurors"][0]["args"]["default_headers"] == {"X-Custom-Sig": "***"}
    assert any((site / "data").rglob("*.json")) or any(site.rglob("*.json"))

    leaks = _leaks(tmp_path / "results") + _leaks(cache) + _leaks(site)
    for text in printed:
        leaks += [f"{s!r} printed" for s in SECRETS if s in text]
    assert not leaks, leaks


def test_old_run_with_a_password_in_its_manifest_is_scrubbed_by_show_and_the_site(tmp_path, capfd, planted_env):
    """Runs written before this fix (or by hand) still carry userinfo: show and the site
    scrub it on the way out."""
    code, _, err = _cli(capfd, "run", "--tasks", "example/arithmetic", "--limit", "1", "--model", "replay/gold",
                        "--output-dir", str(tmp_path / "results"), "--run-id", "old", "--cache-dir", str(tmp_path / "c"), "--no-progress")
    assert code == 0, err
    path = tmp_path / "results" / "old" / "run.json"
    manifest = json.loads(path.read_text())
    manifest["model"]["args"] = {"base_url": f"http://{URL_USER}:{URL_PASS}@gateway.example/v1"}
    manifest["command"] = ["mteval", "run", "--model-args", f"base_url=http://{URL_USER}:{URL_PASS}@gateway.example/v1"]
    path.write_text(json.dumps(manifest))
    printed = []
    for argv in (["show", str(path.parent)], ["show", str(path.parent), "--json"],
                 ["leaderboard", "build", "--results", str(tmp_path / "results"), "--out", str(tmp_path / "site")]):
        code, out, err = _cli(capfd, *argv)
        assert code == 0, err
        printed += [out, err]
    assert "gateway.example" in printed[2]  # the run is shown, only the credential is gone
    leaks = _leaks(tmp_path / "site") + [f"{URL_PASS!r} printed" for text in printed if URL_PASS in text]
    assert not leaks, leaks


def test_task_options_with_credentials_are_kept_out_of_the_manifest(tmp_path, capfd, planted_env):
    """`--task-args` reach plugin tasks that may need a token or a URL with a password."""
    from mteval.registry import register_task
    from mteval_tasks.example import Arithmetic

    @register_task
    class TokenTask(Arithmetic):  # a plugin that declares no option names (any key accepted)
        name = "reliability/token_task"
        option_names = None

    args = f"hf_token={ENV_TOKEN}x,mirror=http://{URL_USER}:{URL_PASS}@mirror.example/data"
    try:
        code, out, err = _cli(capfd, "run", "--tasks", "reliability/token_task", "--limit", "1", "--model", "replay/gold",
                              "--task-args", args, "--output-dir", str(tmp_path / "results"), "--run-id", "t",
                              "--cache-dir", str(tmp_path / "c"), "--no-progress", "--json")
    finally:
        from mteval import registry

        registry._TASKS.pop(TokenTask.name, None)  # other tests list the registered tasks
    assert code == 0, err
    manifest = json.loads((tmp_path / "results" / "t" / "run.json").read_text())
    assert manifest["task_options"] == {"mirror": "http://***@mirror.example/data"}
    leaks = _leaks(tmp_path / "results") + [s for s in (URL_PASS, f"{ENV_TOKEN}x") if s in out + err]
    assert not leaks, leaks


def test_header_given_in_model_args_is_sent_and_never_written(tmp_path, capfd, planted_env):
    """`--model-args default_headers={"X-Custom-Sig": ...}` (JSON, commas inside it allowed)
    reaches the server as a header; before the fix the value stayed a string, was written
    in clear to run.json and crashed the SDK with a traceback."""
    with FakeLLMServer() as server:
        model_args = (f'base_url=http://127.0.0.1:{server.port}/v1,api_key=x,'
                      f'default_headers={{"X-Custom-Sig": "{SIG}", "X-Other": "second{SIG}"}}')
        results, cache, site = tmp_path / "results", tmp_path / "cache", tmp_path / "site"
        code, out, err = _cli(capfd, "run", "--tasks", "example/arithmetic", "--limit", "1", "--model", "openai/model-test",
                              "--model-args", model_args, "--output-dir", str(results), "--run-id", "hdr",
                              "--cache-dir", str(cache), "--no-progress")
        assert code == 0, err
        printed = [out, err]
        for argv in (["show", str(results / "hdr"), "--json"], ["leaderboard", "build", "--results", str(results), "--out", str(site)]):
            code, out, err = _cli(capfd, *argv)
            assert code == 0, err
            printed += [out, err]
        headers = [h for _, _, h in server.requests]
        assert headers and all(h.get("x-custom-sig") == SIG and h.get("x-other") == f"second{SIG}" for h in headers)
    manifest = json.loads((results / "hdr" / "run.json").read_text())
    assert manifest["model"]["args"]["default_headers"] == {"X-Custom-Sig": "***", "X-Other": "***"}
    leaks = _leaks(results) + _leaks(cache) + _leaks(site) + [f"{s!r} printed" for t in printed for s in SECRETS if s in t]
    assert not leaks, leaks


@pytest.mark.parametrize("text, message", [
    ('default_headers={"X-Sig": "v"', "default_headers"),  # unclosed brace
    ("default_headers={X-Sig: v}", "default_headers"),  # not JSON
])
def test_malformed_structured_model_arg_is_a_clear_error(tmp_path, capfd, text, message):
    code, out, err = _cli(capfd, "run", "--tasks", "example/arithmetic", "--limit", "1", "--model", "openai/m",
                          "--model-args", f"base_url=http://127.0.0.1:9/v1,{text}", "--output-dir", str(tmp_path / "r"),
                          "--cache-dir", str(tmp_path / "c"), "--no-progress")
    assert code == 2 and "--model-args" in err and message in err and "Traceback" not in err
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("item", [f"api_key{MODEL_KEY}", f"api_key:{JUDGE_KEY}", f"base_url http://u:{URL_PASS}@127.0.0.1:9/v1"])
def test_a_mistyped_credential_item_is_not_echoed(tmp_path, capfd, item):
    """`api_key` without its `=`: the error says what is wrong without printing the value."""
    code, out, err = _cli(capfd, "run", "--tasks", "example/arithmetic", "--model", "openai/m", "--model-args",
                          f"base_url=http://127.0.0.1:9/v1,{item}", "--output-dir", str(tmp_path / "r"), "--no-progress")
    assert code == 2 and "--model-args: expected key=value" in err and "Traceback" not in err
    assert not [s for s in SECRETS if s in out + err], err


def test_headers_that_are_not_a_mapping_are_refused_before_anything_is_written(tmp_path, capfd):
    """A header value given as a plain string (`default_headers=X-Sig:...` on the command line,
    or a string in a jury file) cannot be masked per header: it was written in clear to
    run.json and then crashed the SDK. It is refused, without being printed."""
    jury = tmp_path / "jury.yaml"
    jury.write_text(yaml.safe_dump({"jurors": [{"model": "openai/j", "args": {"base_url": "http://127.0.0.1:9/v1",
                                                                              "default_headers": f"X-Custom-Sig: {SIG}"}}]}))
    common = ["--output-dir", str(tmp_path / "r"), "--cache-dir", str(tmp_path / "c"), "--no-progress"]
    attempts = [
        ["--tasks", "example", "--model", "openai/m", "--model-args", f"base_url=http://127.0.0.1:9/v1,default_headers=X-Custom-Sig:{SIG}"],
        ["--tasks", "mt_bench", "--model", "scripted/echo", "--judge", "openai/j", "--judge-args",
         f"base_url=http://127.0.0.1:9/v1,extra_headers=X-Custom-Sig:{SIG}"],
        ["--tasks", "mt_bench", "--model", "scripted/echo", "--jury", str(jury)],
    ]
    for extra in attempts:
        code, out, err = _cli(capfd, "run", "--limit", "1", *extra, *common)
        assert code == 2, err
        assert "headers" in err and "mapping" in err and "Traceback" not in err
        assert SIG not in out + err
    assert not (tmp_path / "r").exists()
