"""The checks of llama.cpp's settings that turn a value no request could work with into one
usage error naming the setting: the cache folder, the Hub endpoint, the token. (Where each is
read from: tests/test_cache.py; the same errors end to end: tests/test_setup_errors.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from scanner.errors import OptionsError
from scanner.setup import environment


@pytest.mark.parametrize(("env", "flag", "named"), [
    ({"LLAMA_CACHE": "/l"}, Path("/flag"), "--cache-dir (models.cache_dir)"),
    ({"HF_HUB_CACHE": "/h", "HF_HOME": "/o"}, None, "HF_HUB_CACHE"),
    ({"LLAMA_CACHE": "", "HUGGINGFACE_HUB_CACHE": "/u"}, None, "HUGGINGFACE_HUB_CACHE"),
    ({"HF_HOME": "/o", "XDG_CACHE_HOME": "/x"}, None, "HF_HOME"),
    ({"XDG_CACHE_HOME": "/x"}, None, "XDG_CACHE_HOME"),
    ({}, None, "the default cache folder"),
])
def test_a_message_about_the_cache_names_the_setting_that_chose_it(
    env: dict[str, str], flag: Path | None, named: str,
) -> None:
    assert environment.cache_source(env, flag) == named


@pytest.mark.parametrize("below_the_file", ["", "hub", "hub/deeper"])
def test_a_cache_path_through_a_file_is_refused_naming_the_file(
    tmp_path: Path, below_the_file: str,
) -> None:
    file = tmp_path / "not-a-folder"
    file.write_text("x")
    folder = file / below_the_file if below_the_file else file
    with pytest.raises(OptionsError) as refused:
        environment.check_cache_dir({"LLAMA_CACHE": str(folder)})
    assert str(refused.value) == (
        f"LLAMA_CACHE: the cache {folder} cannot be a folder: {file} is a file")


def test_a_cache_folder_that_is_or_will_be_a_folder_is_accepted(tmp_path: Path) -> None:
    (tmp_path / "hub").mkdir()
    assert environment.check_cache_dir({}, tmp_path / "hub") == tmp_path / "hub"
    assert environment.check_cache_dir({"HF_HOME": str(tmp_path / "not" / "yet")}) == \
        tmp_path / "not" / "yet" / "hub"
    assert not (tmp_path / "not").exists(), "checking creates nothing"


@pytest.mark.parametrize("below_the_loop", ["", "hub", "hub/deeper"])
def test_a_path_into_a_symbolic_link_loop_is_refused_naming_the_setting(
    tmp_path: Path, below_the_loop: str,
) -> None:
    loop = tmp_path / "loop"
    loop.symlink_to(tmp_path / "back")
    (tmp_path / "back").symlink_to(loop)
    path = loop / below_the_loop if below_the_loop else loop
    said = f"{path} leads into a symbolic link loop (a link that points back to itself): point " \
        "it at a real folder or file"
    with pytest.raises(OptionsError) as refused:
        environment.resolved(path, "VIRTUAL_ENV")
    assert str(refused.value) == f"VIRTUAL_ENV: {said}"
    with pytest.raises(OptionsError) as refused:
        environment.check_cache_dir({"HF_HUB_CACHE": str(path)})
    assert str(refused.value) == f"HF_HUB_CACHE: {said}"


def test_a_path_with_no_loop_is_resolved_as_it_was(tmp_path: Path) -> None:
    """Missing, dangling or a link to a folder: not a loop (what is wrong with it, another
    check says)."""
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    assert environment.resolved(tmp_path / "link", "x") == (tmp_path / "real").resolve()
    for path in (tmp_path / "missing" / "deeper", tmp_path / "dangling"):
        assert environment.check_no_link_loop(path, "x") == path
        assert environment.resolved(path, "x") == path.resolve()


@pytest.mark.parametrize("env", [
    {"MODEL_ENDPOINT": "http://hub.lan:8080/"}, {"HF_ENDPOINT": "https://hf-mirror.com"},
    {"MODEL_ENDPOINT": "https://mirror", "HF_ENDPOINT": "not checked"}, {},
])
def test_an_http_or_https_endpoint_with_a_host_is_accepted(env: dict[str, str]) -> None:
    assert environment.check_endpoint(env) == environment.endpoint(env)


@pytest.mark.parametrize(("env", "name"), [
    ({"MODEL_ENDPOINT": "huggingface.co"}, "MODEL_ENDPOINT"),  # no scheme
    ({"MODEL_ENDPOINT": "ftp://hub.lan", "HF_ENDPOINT": "https://ok"}, "MODEL_ENDPOINT"),
    ({"HF_ENDPOINT": "https://"}, "HF_ENDPOINT"),  # no host
    ({"MODEL_ENDPOINT": "", "HF_ENDPOINT": "http://[::1"}, "HF_ENDPOINT"),  # unparsable
    ({"HF_ENDPOINT": "https://hub.lan:abc"}, "HF_ENDPOINT"),  # a port that is no number
    ({"HF_ENDPOINT": "https://hub.lan:70000"}, "HF_ENDPOINT"),  # out of range
])
def test_an_endpoint_that_is_not_http_host_is_refused_naming_its_variable(
    env: dict[str, str], name: str,
) -> None:
    with pytest.raises(OptionsError) as refused:
        environment.check_endpoint(env)
    assert str(refused.value) == (f"{name}: {env[name]!r} is not an http(s)://host address "
                                  "(for example https://huggingface.co)")


@pytest.mark.parametrize(("value", "sent"), [
    (None, None), ("", None), (" \n", None), ("hf_abc\n", "hf_abc"), ("\t!hf~ ", "!hf~"),
])
def test_the_token_is_sent_without_the_whitespace_around_it(
    value: str | None, sent: str | None,
) -> None:
    assert environment.token({} if value is None else {"HF_TOKEN": value}) == sent


@pytest.mark.parametrize("inside", [" ", "\n", "\x00", "\x1b", "\x7f"])
def test_a_token_with_a_space_or_control_character_inside_is_refused_unseen(
    inside: str,
) -> None:
    with pytest.raises(OptionsError) as refused:
        environment.token({"HF_TOKEN": f"hf_secret{inside}rest"})
    assert str(refused.value) == ("HF_TOKEN holds a space or a control character inside it, "
                                  "which no HTTP header can carry: set it to the token alone")


@pytest.mark.parametrize(("url", "shown"), [
    ("http://user:PASSWORD@proxy:8080/hub", "http://user:***@proxy:8080/hub"),
    ("https://TOKEN@proxy/", "https://***@proxy/"),  # a user name alone may be a token
    ("http://user:p@ss:w@proxy/a@b", "http://user:***@proxy/a@b"),  # the last @ ends it
    ("https://proxy/hub?token=SECRET&x=1&flag", "https://proxy/hub?token=***&x=***&flag"),
    ("user:PASSWORD@proxy", "user:***@proxy"),  # no scheme: refused, shown like this
    ("https://huggingface.co", "https://huggingface.co"),
    ("http://proxy//a//b", "http://proxy//a//b"),
])
def test_an_endpoint_is_shown_without_its_password_or_query_values(url: str,
                                                                   shown: str) -> None:
    assert environment.shown_url(url) == shown


def test_each_url_in_a_text_is_shown_so() -> None:
    text = "GET http://u:PW@h/x?sig=S failed; see 'https://h2?k=V'. Retried (3 times)"
    assert environment.shown_text(text) == (
        "GET http://u:***@h/x?sig=*** failed; see 'https://h2?k=***'. Retried (3 times)")


@pytest.mark.parametrize(("value", "on"), [
    *((value, True) for value in ("on", "enabled", "true", "1")),
    *((value, False) for value in ("off", "false", "0", "", "yes", "TRUE", "On", " 1", None)),
])
def test_a_llama_cpp_switch_is_on_for_exactly_its_four_words(value: str | None,
                                                             on: bool) -> None:
    """`common_arg_utils::is_truthy` (llama.cpp common/arg.cpp), as its environment loop in
    `common_params_parse_ex` applies it to a switch such as `LLAMA_ARG_OFFLINE`."""
    assert environment.llama_switch(value) is on


@pytest.mark.parametrize(("value", "on"), [
    *((value, True) for value in ("1", "on", "ON", "yes", "Yes", "true", "TRUE")),
    *((value, False) for value in ("0", "off", "no", "false", "", "enabled", " 1", None)),
])
def test_a_huggingface_hub_switch_is_read_as_its_constants_module_does(value: str | None,
                                                                       on: bool) -> None:
    assert environment.hf_switch(value) is on
    if value is not None:  # the installed huggingface_hub agrees
        from huggingface_hub import constants

        assert constants._is_true(value) is on


@pytest.mark.parametrize(("env", "offline"), [
    ({"LLAMA_ARG_OFFLINE": "false", "HF_HUB_OFFLINE": "no"}, False),
    ({"LLAMA_ARG_OFFLINE": "yes"}, False),
    ({"LLAMA_ARG_OFFLINE": "on"}, True),
    ({"HF_HUB_OFFLINE": "off", "TRANSFORMERS_OFFLINE": "1"}, False),  # the first one set wins
    ({"HF_HUB_OFFLINE": "", "TRANSFORMERS_OFFLINE": "yes"}, True),
    ({}, False),
])
def test_the_tests_run_offline_when_llama_cpp_or_huggingface_hub_would(
    env: dict[str, str], offline: bool
) -> None:
    assert environment.offline(env) is offline
