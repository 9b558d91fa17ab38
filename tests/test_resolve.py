"""File choice for `-hf` references, one test per llama.cpp rule (common/download.cpp)."""

from __future__ import annotations

import hashlib
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scanner.llama.resolve import (
    Resolution,
    ResolutionError,
    SplitInfo,
    find_best_sibling,
    llama_tag,
    quant_bits,
    resolve,
    split_info,
    split_parts,
)
from scanner.models import HuggingFaceModel, RepoFile, RepoListing

REPO = "unsloth/Qwen3-8B-GGUF"
COMMIT = "a" * 40


def rf(path: str, size: int = 10) -> RepoFile:
    """A listed file; GGUFs are LFS (sha256 blob name), small text files are plain git blobs."""
    oid = hashlib.sha1(path.encode()).hexdigest()
    sha = hashlib.sha256(path.encode()).hexdigest() if path.endswith(".gguf") else None
    return RepoFile(path=path, size=size, oid=oid, sha256=sha)


def listing(*paths: str) -> RepoListing:
    return RepoListing(repo=REPO, commit=COMMIT, files=tuple(rf(p) for p in paths))


def run(
    ref: str, paths: list[str], hf_file: str | None = None, *, mmproj: bool = True
) -> Resolution:
    return resolve(HuggingFaceModel(hf_repo=ref, hf_file=hf_file), listing(*paths), mmproj=mmproj)


def names(res: Resolution) -> list[str]:
    return [f.path for f in res.files]


FLAT = [
    "README.md",
    "Qwen3-8B-BF16.gguf",
    "Qwen3-8B-Q4_K_M.gguf",
    "Qwen3-8B-Q8_0.gguf",
    "mmproj-model-f16.gguf",
    "mmproj-model-Q8_0.gguf",
]


# --- explicit --hf-file ---------------------------------------------------------------------


def test_explicit_file_is_taken_as_is_and_the_tag_is_ignored() -> None:
    res = run(f"{REPO}:Q8_0", FLAT, "Qwen3-8B-BF16.gguf", mmproj=False)
    assert names(res) == ["Qwen3-8B-BF16.gguf"]
    assert res.primary.path == "Qwen3-8B-BF16.gguf"


def test_explicit_file_still_gets_its_split_parts_and_mmproj() -> None:
    paths = [
        "Q8_0/model-Q8_0-00001-of-00002.gguf",
        "Q8_0/model-Q8_0-00002-of-00002.gguf",
        "mmproj-model-f16.gguf",
    ]
    res = run(REPO, paths, "Q8_0/model-Q8_0-00001-of-00002.gguf")
    assert names(res) == paths
    assert res.mmproj is not None and res.mmproj.path == "mmproj-model-f16.gguf"


def test_explicit_file_not_in_repo_lists_the_model_ggufs() -> None:
    with pytest.raises(ResolutionError) as info:
        run(REPO, FLAT, "Qwen3-8B-Q5_K_M.gguf")
    message = str(info.value)
    assert REPO in message and "'Qwen3-8B-Q5_K_M.gguf'" in message
    assert "Qwen3-8B-BF16.gguf, Qwen3-8B-Q4_K_M.gguf, Qwen3-8B-Q8_0.gguf" in message
    assert "mmproj" not in message
    assert info.value.available == (
        "Qwen3-8B-BF16.gguf",
        "Qwen3-8B-Q4_K_M.gguf",
        "Qwen3-8B-Q8_0.gguf",
    )


def test_explicit_file_is_matched_case_sensitively_with_a_hint() -> None:
    with pytest.raises(ResolutionError, match=re.escape("the repo has 'Qwen3-8B-Q8_0.gguf'")):
        run(REPO, FLAT, "qwen3-8b-q8_0.gguf")


def test_error_says_when_the_repo_has_no_model_gguf() -> None:
    with pytest.raises(ResolutionError, match="has no model GGUF files"):
        run(REPO, ["README.md", "mmproj-model-f16.gguf", "imatrix.gguf"])


# --- tag matching (find_best_model) ---------------------------------------------------------


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("q4_k_m", "Qwen3-8B-Q4_K_M.gguf"),  # case-insensitive, '.' after the tag
        ("Q8_0", "Q8_0/Qwen3-8B-Q8_0-00001-of-00002.gguf"),  # '-' after the tag
        ("bf16", "Qwen3-8B.BF16.gguf"),  # mradermacher-style '.' before the tag
    ],
)
def test_tag_matches_any_case_followed_by_dot_or_dash(tag: str, expected: str) -> None:
    paths = [
        "Qwen3-8B.BF16.gguf",
        "Qwen3-8B-Q4_K_M.gguf",
        "Q8_0/Qwen3-8B-Q8_0-00001-of-00002.gguf",
        "Q8_0/Qwen3-8B-Q8_0-00002-of-00002.gguf",
    ]
    assert run(f"{REPO}:{tag}", paths, mmproj=False).primary.path == expected


def test_tag_does_not_match_a_longer_tag() -> None:
    paths = ["Qwen3-8B-IQ3_XXS.gguf", "Qwen3-8B-IQ3_XS.gguf", "Qwen3-8B-Q4_K_M.gguf"]
    assert run(f"{REPO}:IQ3_XS", paths).primary.path == "Qwen3-8B-IQ3_XS.gguf"
    with pytest.raises(ResolutionError, match="tag 'Q4_K'"):
        run(f"{REPO}:Q4_K", paths)


def test_tag_is_searched_anywhere_in_the_path_not_anchored_at_its_start() -> None:
    paths = ["Qwen3-8B-Q8_0.gguf", "Qwen3-8B-Q4_K_M.gguf"]
    assert run(f"{REPO}:K_M", paths).primary.path == "Qwen3-8B-Q4_K_M.gguf"


def test_tag_takes_the_first_match_in_listing_order() -> None:
    paths = ["TheDrummer_Model-24B-v4.1-Q8_0.gguf", "BlackSheep-24B.Q8_0.gguf"]
    assert run(f"{REPO}:Q8_0", paths).primary.path == paths[0]
    assert run(f"{REPO}:Q8_0", paths[::-1]).primary.path == paths[1]


def test_explicit_tag_without_match_is_an_error_not_a_fallback() -> None:
    with pytest.raises(ResolutionError, match="tag 'Q5_K_M'") as info:
        run(f"{REPO}:Q5_K_M", FLAT)
    assert "Qwen3-8B-Q8_0.gguf" in str(info.value)


def test_tag_is_the_text_after_the_last_colon() -> None:
    assert llama_tag(HuggingFaceModel(hf_repo="org/m:x:Q8_0")) == "Q8_0"
    assert llama_tag(HuggingFaceModel(hf_repo="org/m:")) == ""
    assert llama_tag(HuggingFaceModel(hf_repo="org/m")) == ""


@pytest.mark.parametrize(
    ("paths", "expected"),
    [
        (["m-Q8_0.gguf", "m-BF16.gguf", "m-Q4_K_M.gguf"], "m-Q4_K_M.gguf"),
        (["m-BF16.gguf", "m-Q8_0.gguf", "m-Q4_K_S.gguf"], "m-Q8_0.gguf"),
        (["README.md", "m-IQ3_XXS.gguf", "m-BF16.gguf"], "m-IQ3_XXS.gguf"),
    ],
    ids=["Q4_K_M", "then Q8_0", "then first model GGUF"],
)
def test_default_is_q4_k_m_then_q8_0_then_first_model_gguf(paths: list[str], expected: str) -> None:
    assert run(REPO, paths).primary.path == expected


# --- skipped names (gguf_filename_is_model) ---------------------------------------------------


@pytest.mark.parametrize(
    "sidecar",
    [
        "mmproj-Qwen3-8B-Q4_K_M.gguf",
        "Qwen3-8B-imatrix-Q4_K_M.gguf",
        "mtp-Qwen3-8B-Q4_K_M.gguf",
        "eagle3-Qwen3-8B-Q4_K_M.gguf",
        "dflash-Qwen3-8B-Q4_K_M.gguf",
        "dspark-Qwen3-8B-Q4_K_M.gguf",
    ],
)
def test_sidecar_names_are_never_the_primary(sidecar: str) -> None:
    paths = [sidecar, "Qwen3-8B-BF16.gguf"]
    assert run(f"{REPO}:Q4_K_M", [*paths, "Qwen3-8B-Q4_K_M.gguf"]).primary.path == (
        "Qwen3-8B-Q4_K_M.gguf"
    )
    assert run(REPO, paths).primary.path == "Qwen3-8B-BF16.gguf"
    with pytest.raises(ResolutionError, match="tag 'Q4_K_M'"):
        run(f"{REPO}:Q4_K_M", paths)


def test_skip_markers_look_at_the_basename_case_sensitively() -> None:
    # unsloth's suffix "-MTP-" is not "mtp-"; a folder named mmproj does not hide its models
    assert run(REPO, ["model-MTP-BF16.gguf"]).primary.path == "model-MTP-BF16.gguf"
    assert run(REPO, ["mmproj/model-Q8_0.gguf"]).primary.path == "mmproj/model-Q8_0.gguf"


# --- preset.ini -----------------------------------------------------------------------------


def test_root_preset_ini_wins_over_everything_even_an_explicit_file() -> None:
    paths = [*FLAT, "preset.ini"]
    for res in (run(f"{REPO}:Q8_0", paths), run(REPO, paths, "Qwen3-8B-BF16.gguf")):
        assert names(res) == ["preset.ini"] and res.mmproj is None


def test_preset_ini_in_a_subfolder_is_just_a_file() -> None:
    res = run(REPO, ["configs/preset.ini", "Preset.ini", "Qwen3-8B-Q4_K_M.gguf"], mmproj=False)
    assert names(res) == ["Qwen3-8B-Q4_K_M.gguf"]


# --- split models (get_split_files) -----------------------------------------------------------

SPLIT = [f"Q8_0/model-Q8_0-0000{i}-of-00003.gguf" for i in (1, 2, 3)]


def test_split_model_brings_all_parts_in_order_primary_first() -> None:
    paths = [SPLIT[2], "Q4_K_M/model-Q4_K_M-00001-of-00003.gguf", SPLIT[1], SPLIT[0]]
    res = run(f"{REPO}:Q8_0", paths)
    assert names(res) == SPLIT
    assert res.primary.path == SPLIT[0]


def test_split_primary_is_always_the_first_part() -> None:
    assert run(REPO, [SPLIT[1], SPLIT[0], SPLIT[2]]).primary.path == SPLIT[0]


def test_missing_split_part_is_an_error() -> None:
    with pytest.raises(ResolutionError, match="missing part\\(s\\) 00002") as info:
        run(f"{REPO}:Q8_0", [SPLIT[0], SPLIT[2]])
    assert "Q8_0/model-Q8_0-00001-of-00003.gguf (3 parts)" in str(info.value)


def test_split_parts_share_prefix_and_count() -> None:
    lst = listing(
        *SPLIT, "Q8_0/other-Q8_0-00002-of-00003.gguf", "Q8_0/model-Q8_0-00002-of-00004.gguf"
    )
    assert [f.path for f in split_parts(lst, lst.files[0])] == SPLIT


def test_split_info_follows_get_gguf_split_info() -> None:
    info = split_info("Q8_0/model-Q8_0-00002-OF-00003.gguf")
    assert info is not None
    assert (info.prefix, info.tag, info.index, info.count) == ("Q8_0/model-Q8_0", "Q8_0", 2, 3)
    assert split_info("model-q4_k_m.gguf") == SplitInfo("model-q4_k_m", "Q4_K_M", 1, 1)
    assert split_info("README.md") is None
    assert split_info("model.GGUF") is None


# --- mmproj (find_best_sibling) ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "bits"),
    [
        ("Qwen3-8B-Q4_K_M.gguf", 4),
        ("Qwen3-8B-BF16.gguf", 16),
        ("Qwen3-8B-IQ3_XXS.gguf", 3),
        ("mmproj-model-f16.gguf", 16),
        ("model-MXFP4.gguf", 4),
        ("model-UD-Q8_K_XL.gguf", 8),
        ("Q8_0/model-Q8_0-00001-of-00003.gguf", 8),
        ("Q8_0/model.gguf", 0),
        ("README.md", 0),
    ],
)
def test_quant_bits_is_the_first_number_of_the_trailing_tag(path: str, bits: int) -> None:
    assert quant_bits(path) == bits


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("Q8_0", "mmproj-model-Q8_0.gguf"),
        ("Q4_K_M", "mmproj-model-Q8_0.gguf"),  # |8-4| < |16-4|
        ("BF16", "mmproj-model-f16.gguf"),  # ties keep listing order: f16 before BF16
    ],
)
def test_mmproj_has_the_closest_quant_bits(tag: str, expected: str) -> None:
    paths = [*FLAT, "mmproj-model-BF16.gguf"]
    res = run(f"{REPO}:{tag}", paths)
    assert res.mmproj is not None and res.mmproj.path == expected
    assert names(res)[-1] == expected


def test_mmproj_in_the_deepest_shared_folder_beats_closer_bits() -> None:
    paths = [
        "mmproj-Q8_0.gguf",
        "Q8_0/mmproj-F16.gguf",
        "Q8_0/vision/mmproj-Q8_0.gguf",  # deeper than the model: not a sibling
        "Q4_K_M/mmproj-Q8_0.gguf",  # another folder: not a sibling
        *SPLIT,
    ]
    res = run(f"{REPO}:Q8_0", paths)
    assert res.mmproj is not None and res.mmproj.path == "Q8_0/mmproj-F16.gguf"
    assert names(res) == [*SPLIT, "Q8_0/mmproj-F16.gguf"]


def test_mmproj_only_in_a_subfolder_of_a_root_model_is_not_found() -> None:
    res = run(REPO, ["Qwen3-8B-Q4_K_M.gguf", "vision/mmproj-model-f16.gguf"])
    assert res.mmproj is None and names(res) == ["Qwen3-8B-Q4_K_M.gguf"]


def test_mmproj_false_skips_the_sibling() -> None:
    res = run(f"{REPO}:Q8_0", FLAT, mmproj=False)
    assert res.mmproj is None and names(res) == ["Qwen3-8B-Q8_0.gguf"]


def test_sibling_with_tag_prefers_an_exact_tag_match() -> None:
    lst = listing("mtp-model-BF16.gguf", "mtp-model-Q8_0.gguf", "mtp-model-Q8_K.gguf")
    best = find_best_sibling(lst, "model-Q4_K_M.gguf", "mtp-", "q8_k")
    assert best is not None and best.path == "mtp-model-Q8_K.gguf"


# --- URL references ---------------------------------------------------------------------------


def url_model(path: str) -> HuggingFaceModel:
    return HuggingFaceModel(hf_repo=REPO, hf_file=path, revision="b" * 40)


def test_url_reference_is_exactly_that_file() -> None:
    lst = listing(*FLAT, "preset.ini")
    res = resolve(url_model("Qwen3-8B-BF16.gguf"), lst)
    assert names(res) == ["Qwen3-8B-BF16.gguf"] and res.mmproj is None


def test_url_reference_to_a_split_part_brings_every_part() -> None:
    res = resolve(url_model(SPLIT[0]), listing(*SPLIT))
    assert names(res) == SPLIT


def test_url_reference_missing_file_is_an_error() -> None:
    with pytest.raises(ResolutionError, match=re.escape("URL file 'nope.gguf'")):
        resolve(url_model("nope.gguf"), listing(*FLAT))


# --- nested folders ---------------------------------------------------------------------------


def test_nested_folders() -> None:
    paths = [
        "mmproj-model-f16.gguf",
        "gguf/instruct/mmproj-model-Q8_0.gguf",
        "gguf/instruct/Q4_K_M/Qwen3-8B-Q4_K_M.gguf",
        "gguf/base/Qwen3-8B-Q4_K_M.gguf",
    ]
    res = run(REPO, paths)
    assert res.primary.path == "gguf/instruct/Q4_K_M/Qwen3-8B-Q4_K_M.gguf"
    assert res.mmproj is not None and res.mmproj.path == "gguf/instruct/mmproj-model-Q8_0.gguf"
    res = run(REPO, paths, "gguf/base/Qwen3-8B-Q4_K_M.gguf")
    assert res.mmproj is not None and res.mmproj.path == "mmproj-model-f16.gguf"


# --- types --------------------------------------------------------------------------------------


def test_listing_of_another_repo_is_refused() -> None:
    with pytest.raises(ValueError, match="listing of"):
        resolve(HuggingFaceModel(hf_repo="org/other"), listing(*FLAT))


# --- properties ---------------------------------------------------------------------------------

NAMES = st.sampled_from(
    [
        "README.md",
        "preset.ini",
        "Qwen3-8B-Q4_K_M.gguf",
        "Qwen3-8B-Q8_0.gguf",
        "Qwen3-8B-BF16.gguf",
        "Qwen3-8B-IQ3_XXS.gguf",
        "mmproj-model-f16.gguf",
        "imatrix.gguf",
        "mtp-Qwen3-8B-Q8_0.gguf",
        *SPLIT,
        "Q8_0/mmproj-Q8_0.gguf",
        "sub/Qwen3-8B-Q4_K_M.gguf",
    ]
)


def expected_primary(paths: list[str], tag: str) -> str | None:
    """llama.cpp's choice restated for NAMES: preset.ini; else per tag (Q4_K_M then Q8_0 by
    default) the first model GGUF, first split part only, with TAG followed by '.' or '-';
    with no tag asked, else the first model GGUF."""
    if "preset.ini" in paths:
        return "preset.ini"
    skipped = ("mmproj", "imatrix", "mtp-")
    later_part = re.compile(r".*-(?!00001)\d{5}-of-\d{5}\.gguf")
    models = [p for p in paths if p.endswith(".gguf") and not later_part.fullmatch(p)
              and not any(k in p.rsplit("/", 1)[-1] for k in skipped)]
    for wanted in [tag] if tag else ["Q4_K_M", "Q8_0"]:
        match = next((p for p in models if re.search(re.escape(wanted) + "[.-]", p, re.I)), None)
        if match:
            return match
    return None if tag or not models else models[0]


@given(st.lists(NAMES, unique=True), st.sampled_from(["", ":Q8_0", ":q4_k_m", ":BF16"]))
def test_resolution_invariants(paths: list[str], tag: str) -> None:
    expected = expected_primary(paths, tag.lstrip(":"))
    incomplete = expected == SPLIT[0] and not set(SPLIT) <= set(paths)
    if expected is None or incomplete:
        with pytest.raises(ResolutionError) as info:
            run(REPO + tag, paths)
        why = "missing part(s)" if incomplete else "no model GGUF matches"
        assert info.value.repo == REPO and why in info.value.problem
        return
    res = run(REPO + tag, paths)
    assert res.primary.path == expected
    assert res.files[0] == res.primary and len(set(res.files)) == len(res.files)
    assert all(f in listing(*paths).files for f in res.files)
    if res.primary.path != "preset.ini":
        assert "preset.ini" not in paths
        assert not any(m in res.primary.path for m in ("mmproj", "imatrix", "mtp-"))
    if res.mmproj is not None:
        assert res.files[-1] == res.mmproj and "mmproj" in res.mmproj.path


# --- split models: the edges (a user sees a model fetched whole, or a clear error) -------------

TWO_PARTS = ["big-Q4_K_M-00001-of-00002.gguf", "big-Q4_K_M-00002-of-00002.gguf"]


def test_a_two_part_model_is_fetched_whole() -> None:
    assert names(run(REPO, [TWO_PARTS[1], TWO_PARTS[0]], mmproj=False)) == TWO_PARTS


def test_a_file_naming_part_two_brings_every_part_and_needs_part_one() -> None:
    res = run(REPO, SPLIT, hf_file=SPLIT[1], mmproj=False)
    assert res.primary.path == SPLIT[1]
    assert names(res) == [SPLIT[1], SPLIT[0], SPLIT[2]]
    with pytest.raises(ResolutionError) as info:
        run(REPO, SPLIT[1:], hf_file=SPLIT[1])
    assert str(info.value).startswith(
        f"{REPO}: split model '{SPLIT[1]}': missing part(s) 00001. ")


def test_a_url_to_part_two_brings_part_one_and_a_missing_part_is_named() -> None:
    res = resolve(url_model(SPLIT[1]), listing(*SPLIT))
    assert names(res) == [SPLIT[1], SPLIT[0], SPLIT[2]]
    with pytest.raises(ResolutionError) as info:
        resolve(url_model(SPLIT[0]), listing(SPLIT[0], SPLIT[2]))
    assert str(info.value).startswith(
        f"{REPO}: URL file '{SPLIT[0]}': missing part(s) {SPLIT[1]}. ")


@pytest.mark.parametrize("digits", [3, 4, 6])
def test_only_five_digit_part_numbers_make_a_split_model(digits: int) -> None:
    paths = [f"model-Q8_0-{i:0{digits}d}-of-{3:0{digits}d}.gguf" for i in (1, 2, 3)]
    assert names(run(REPO, paths, hf_file=paths[0])) == [paths[0]]
    info = split_info(paths[1])
    assert info is not None and (info.prefix, info.index, info.count) == (paths[1][:-5], 1, 1)


def test_a_tag_matching_nothing_lists_twenty_model_ggufs_and_counts_the_rest() -> None:
    paths = [f"model-IQ{i}_XS.gguf" for i in range(1, 23)] + ["mmproj-f16.gguf"]
    with pytest.raises(ResolutionError) as info:
        run(f"{REPO}:Q4_K_M", paths)
    shown = ", ".join(paths[:20])
    assert str(info.value) == (f"{REPO}: tag 'Q4_K_M': no model GGUF matches (tag followed by "
                               f"'.' or '-'). Model GGUFs in the repo: {shown} and 2 more.")
    with pytest.raises(ResolutionError) as info:
        run(REPO, ["README.md", "mmproj-f16.gguf"])
    assert str(info.value) == (
        f"{REPO}: default quant (Q4_K_M, Q8_0, else first model GGUF): no model GGUF matches "
        "(tag followed by '.' or '-'). The repo has no model GGUF files.")


# --- the exact words of each refusal: what a user reads in the summary ---------------------------

def refusal(ref: str, paths: list[str], hf_file: str | None = None) -> str:
    with pytest.raises(ResolutionError) as info:
        run(ref, paths, hf_file)
    return str(info.value)


def test_a_missing_file_names_the_file_and_a_case_only_difference() -> None:
    assert refusal(REPO, ["Model-Q8_0.gguf"], "model-q8_0.gguf") == (
        f"{REPO}: file 'model-q8_0.gguf': not in the repo (llama.cpp matches case-sensitively; "
        "the repo has 'Model-Q8_0.gguf'). Model GGUFs in the repo: Model-Q8_0.gguf.")
    assert refusal(REPO, ["a.gguf"], "b.gguf") == (
        f"{REPO}: file 'b.gguf': not in the repo. Model GGUFs in the repo: a.gguf.")


def test_a_tag_that_is_no_pattern_says_so() -> None:
    with pytest.raises(ResolutionError) as info:
        run(f"{REPO}:Q4(", ["a-Q4.gguf"])
    assert (info.value.asked, info.value.available) == ("tag 'Q4('", ("a-Q4.gguf",))
    assert re.fullmatch(r"not a valid llama\.cpp tag pattern \(missing \).+\)", info.value.problem)


def test_every_missing_part_is_named() -> None:
    assert refusal(REPO, [SPLIT[0]]).startswith(
        f"{REPO}: split model '{SPLIT[0]}': missing part(s) 00002, 00003. ")
    with pytest.raises(ResolutionError) as info:
        resolve(url_model(SPLIT[0]), listing(SPLIT[0]))
    assert str(info.value).startswith(
        f"{REPO}: URL file '{SPLIT[0]}': missing part(s) {SPLIT[1]}, {SPLIT[2]}. ")
    with pytest.raises(ResolutionError) as info:
        resolve(url_model("gone.gguf"), listing(*FLAT))
    assert str(info.value).startswith(
        f"{REPO}: URL file 'gone.gguf': not in the repo at this revision. ")


@pytest.mark.parametrize(("count", "tail"), [(20, "."), (21, " and 1 more.")])
def test_the_gguf_list_says_how_many_it_left_out(count: int, tail: str) -> None:
    paths = [f"model-IQ{i}_XS.gguf" for i in range(1, count + 1)]
    assert refusal(f"{REPO}:Q4_K_M", paths).endswith(", ".join(paths[:20]) + tail)


def test_split_models_are_listed_with_their_part_count() -> None:
    assert refusal(f"{REPO}:Q2_K", TWO_PARTS).endswith(
        f"Model GGUFs in the repo: {TWO_PARTS[0]} (2 parts).")


def test_a_two_part_url_brings_both_parts() -> None:
    assert names(resolve(url_model(TWO_PARTS[0]), listing(*TWO_PARTS))) == TWO_PARTS


def test_an_explicit_file_that_is_not_a_gguf_is_fetched_as_it_is() -> None:
    assert names(run(REPO, ["weights.bin", "x.gguf"], "weights.bin", mmproj=False)) == [
        "weights.bin"]


def test_the_mmproj_comes_by_default() -> None:
    res = resolve(HuggingFaceModel(hf_repo=REPO), listing(*FLAT))
    assert res.mmproj is not None and res.mmproj.path == "mmproj-model-Q8_0.gguf"


def test_a_listing_of_another_repo_is_named() -> None:
    with pytest.raises(ValueError) as info:
        resolve(HuggingFaceModel(hf_repo="org/other:Q8_0"), listing(*FLAT))
    assert str(info.value) == f"listing of {REPO} given for org/other:Q8_0"


def test_a_file_without_a_tag_has_an_empty_tag() -> None:
    assert split_info("sub/model.gguf") == SplitInfo("sub/model", "", 1, 1)
