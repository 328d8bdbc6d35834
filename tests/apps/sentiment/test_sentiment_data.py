"""Loading reviews: the aclImdb archive and folder, CSV files and their errors, batching."""

import re
import tarfile

import numpy as np
import pytest
from sentiment_testutils import MIRROR, generated_reviews, write_csv

from apps.common.errors import UsageError
from apps.sentiment import data


@pytest.mark.skipif(not MIRROR, reason="needs the offline data mirror ($RNN_SUITE_DATA)")
def test_mirror_archive_gives_the_official_split_once_parsed():
    reviews = data.load("files", limit=0)
    assert (len(reviews.x_train), len(reviews.x_val), len(reviews.x_test)) == (22500, 2500, 25000)
    assert abs(reviews.y_test.mean() - 0.5) < 1e-9
    assert 0.45 < reviews.y_val.mean() < 0.55
    assert "<br />" in " ".join(reviews.x_train[:200])
    # Parsed once per process: a second load reuses the parsed archive.
    hits = data.read_imdb.cache_info().hits
    assert data.load("files", limit=50).x_train == reviews.x_train[:50]
    assert data.read_imdb.cache_info().hits == hits + 1


def _fake_imdb(root):
    for split in ("train", "test"):
        for label, word in (("pos", "great"), ("neg", "awful")):
            folder = root / "aclImdb" / split / label
            folder.mkdir(parents=True)
            for index in range(6):
                (folder / f"{index}_{7 if label == 'pos' else 2}.txt").write_text(
                    f"A {word} film number {index}.<br />The end.", encoding="utf-8")


def test_extracted_folder_is_read_like_the_archive(tmp_path):
    _fake_imdb(tmp_path / "imdb")
    reviews = data.load("files", data_dir=str(tmp_path))
    assert len(reviews.x_train) + len(reviews.x_val) == 12 and len(reviews.x_test) == 12
    for texts, labels in ((reviews.x_train, reviews.y_train), (reviews.x_test, reviews.y_test)):
        for text, label in zip(texts, labels):
            assert ("great" in text) == bool(label)


def _fake_imdb_with_movies(root, per_label=40, movies=8):
    """Reviews whose text names their movie, and the urls files that say the same."""
    for label in ("pos", "neg"):
        folder = root / "aclImdb" / "train" / label
        folder.mkdir(parents=True)
        urls = []
        for index in range(per_label):
            movie = f"tt{(index * 7 + (label == 'pos')) % movies:07d}"
            urls.append(f"http://www.imdb.com/title/{movie}/usercomments")
            (folder / f"{index}_{7 if label == 'pos' else 2}.txt").write_text(
                f"{label} review of {movie}", encoding="utf-8")
        (root / "aclImdb" / "train" / f"urls_{label}.txt").write_text("\n".join(urls) + "\n")
        test = root / "aclImdb" / "test" / label
        test.mkdir(parents=True)
        for index in range(10):
            (test / f"{index}_5.txt").write_text(f"{label} test review {index}",
                                                 encoding="utf-8")


def _movie(text):
    return text.split()[-1]


@pytest.mark.parametrize("archive", [False, True])
def test_validation_by_movie_holds_whole_movies_out(tmp_path, archive):
    _fake_imdb_with_movies(tmp_path / ("src" if archive else "imdb"))
    if archive:
        (tmp_path / "imdb").mkdir()
        with tarfile.open(tmp_path / "imdb" / "aclImdb_v1.tar.gz", "w:gz") as tar:
            tar.add(tmp_path / "src" / "aclImdb", arcname="aclImdb")
    reviews = data.load("files", data_dir=str(tmp_path), validation_split="movie")
    train_movies = {_movie(text) for text in reviews.x_train}
    val_movies = {_movie(text) for text in reviews.x_val}
    assert val_movies and not train_movies & val_movies
    assert len(reviews.x_train) + len(reviews.x_val) == 80
    # Whole movies until a tenth of the reviews: 8 of the 80, give or take one movie's 10.
    assert 8 <= len(reviews.x_val) < 8 + 10
    for texts, labels in ((reviews.x_train, reviews.y_train), (reviews.x_val, reviews.y_val)):
        assert [text.startswith("pos") for text in texts] == [bool(label) for label in labels]
    assert f"{len(val_movies)} whole movies held out" in reviews.description
    # The random split of the same files mixes movies, which is what the movie split is for.
    mixed = data.load("files", data_dir=str(tmp_path), validation_split="random")
    assert {_movie(text) for text in mixed.x_val} & {_movie(text) for text in mixed.x_train}
    assert mixed.x_test == reviews.x_test  # `evaluate --limit N` scores the same reviews


@pytest.mark.skipif(not MIRROR, reason="needs the offline data mirror ($RNN_SUITE_DATA)")
def test_mirror_validation_by_movie_shares_no_movie_with_train():
    reviews = data.load("files", validation_split="movie")
    path = str(data.find_imdb(data.data_mirror.data_root()))
    movies_of = {}
    for text, movie in zip(data.read_imdb(path)[0], data.read_movies(path)):
        movies_of.setdefault(text, set()).add(movie)
    # 57 texts were posted under several movies; a text names its movie only when it is one.
    movie = {text: movies.pop() for text, movies in movies_of.items() if len(movies) == 1}
    val = {movie[text] for text in reviews.x_val if text in movie}
    assert len(val) > 300 and not val & {movie[t] for t in reviews.x_train if t in movie}
    assert 2500 <= len(reviews.x_val) < 2600 and len(reviews.x_test) == 25000


@pytest.mark.parametrize("kwargs,message", [
    ({"source": "csv", "csv_path": "r.csv"}, "needs the aclImdb archive .*--validation-split random"),
    ({"source": "tfds"}, "needs the aclImdb archive"),
    ({"source": "files", "validation_split": "by-film"}, "one of random, movie; got 'by-film'"),
])
def test_a_validation_split_the_source_cannot_make(kwargs, message):
    kwargs = {"validation_split": "movie", **kwargs}
    with pytest.raises(UsageError, match=message):
        data.load(**kwargs)


def test_validation_by_movie_without_urls_files_says_so(tmp_path):
    _fake_imdb(tmp_path / "imdb")
    with pytest.raises(UsageError, match="no aclImdb/train/urls_pos.txt .*--validation-split "
                                         "random"):
        data.load("files", data_dir=str(tmp_path), validation_split="movie")


def test_a_data_folder_without_imdb_names_what_was_expected(tmp_path):
    with pytest.raises(UsageError, match="aclImdb_v1_labeled.tar.gz .*imdb"):
        data.load("files", data_dir=str(tmp_path))


def test_no_source_at_all_is_one_clear_error(monkeypatch, tmp_path):
    monkeypatch.delenv("RNN_SUITE_DATA", raising=False)
    monkeypatch.setattr(data, "_from_tfds", lambda require: None)
    with pytest.raises(UsageError, match="--csv"):
        data.load("auto")


def test_csv_reviews_are_split_with_a_fixed_seed(tmp_path):
    texts, labels = generated_reviews(100)
    path = write_csv(tmp_path / "r.csv", texts, labels)
    first = data.from_csv(path, "review", "sentiment")
    again = data.from_csv(path, "review", "sentiment")
    assert (len(first.x_train), len(first.x_val), len(first.x_test)) == (72, 8, 20)
    assert first.x_test == again.x_test and first.x_val == again.x_val
    assert first.class_names == ("neg", "pos")
    for text, label in zip(first.x_train, first.y_train):
        assert texts.index(text) % 2 == label


@pytest.mark.parametrize("values,names,positive", [
    (["1", "0"], ("negative", "positive"), "1"),
    (["Positive", "Negative"], ("Negative", "Positive"), "Positive"),
    (["spam", "ham"], ("ham", "spam"), "spam"),
])
def test_csv_label_values_map_to_0_and_1(tmp_path, values, names, positive):
    labels = [values[i % 2] for i in range(20)]
    path = write_csv(tmp_path / "r.csv", [f"review {i}" for i in range(20)], labels)
    reviews = data.from_csv(path, "review", "sentiment")
    assert reviews.class_names == names
    for text, label in zip(reviews.x_train, reviews.y_train):
        assert label == (labels[int(text.split()[1])] == positive)


@pytest.mark.parametrize("content,message", [
    ("id,text,stars\n1,good,5\n", "no column 'label' .*'id', 'text', 'stars'.*--label-col"),
    ("", "no column 'text' or 'label' .*empty"),
    ("text,label\n" + "".join(f"r{i},{i % 3}\n" for i in range(12)),
     "exactly two classes, found 3: '0', '1', '2'"),
    ("text,label\n" + "".join(f"r{i},pos\n" for i in range(12)), "exactly two classes, found 1"),
    ("text,label\ngood,1\nbad,0\n", "2 usable rows; need at least 10"),
    ("text,label\ngood,\n", "line 2 has an empty 'label' label"),
])
def test_bad_csv_files_give_one_line_errors(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(UsageError, match=message) as error:
        data.from_csv(path, "text", "label")
    assert "\n" not in str(error.value)


def test_csv_with_bad_utf8_names_the_line(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_bytes(b"text,label\ngood,1\nbad \xe9t\xe9,0\n")
    with pytest.raises(UsageError, match="not valid UTF-8: line 3 has the byte 0xe9"):
        data.from_csv(path, "text", "label")


@pytest.mark.parametrize("values, names, expected", [
    (["Pos", "neg", "pos"], ("neg", "pos"), [1, 0, 1]),
    (["1", "0"], ("negative", "positive"), [1, 0]),  # another spelling of a polar pair
    (["bad", "good"], ("neg", "pos"), [0, 1]),
    (["positive"], ("negative", "positive"), [1]),  # one class alone is a test set too
    (["dog", "cat"], ("cat", "dog"), [1, 0]),
])
def test_a_test_csvs_labels_map_onto_the_runs_classes(values, names, expected):
    assert data.labels_onto(values, names, "t.csv").tolist() == expected


@pytest.mark.parametrize("values, names, message", [
    (["0", "1"], ("cat", "dog"), "holds '0', '1', not the run's classes 'cat' and 'dog'"),
    (["0", "neg"], ("negative", "positive"), "holds '0', 'neg', not the run's classes "
                                             "'negative' and 'positive' (or one of the pairs"),
    (["pos", "meh"], ("neg", "pos"), "holds 'meh', 'pos'"),
])
def test_a_test_csvs_labels_that_are_not_the_runs_classes(values, names, message):
    with pytest.raises(UsageError, match=re.escape(message)):
        data.labels_onto(values, names, "t.csv")


def test_a_whole_csv_as_the_test_set(tmp_path):
    texts, labels = generated_reviews(30, seed=2)
    path = write_csv(tmp_path / "t.csv", texts, labels)
    read = data.read_test_csv(path, "review", "sentiment")
    reviews = data.reviews_from_test_csv(path, *read, ("neg", "pos"), "sentiment", limit=20)
    assert reviews.x_test == texts[:20] and not reviews.x_train and not len(reviews.y_val)
    assert reviews.y_test.tolist() == [int(label == "pos") for label in labels[:20]]
    assert "as the test set: 20 reviews (--limit 20 of 30), " in reviews.description
    (tmp_path / "header.csv").write_text("review,sentiment\n", encoding="utf-8")
    with pytest.raises(UsageError, match="has no reviews"):
        data.read_test_csv(tmp_path / "header.csv", "review", "sentiment")


def test_pipeline_batches_every_review_once_in_length_sorted_chunks():
    texts = [" ".join(["w"] * n) for n in np.random.default_rng(0).integers(1, 90, size=203)]
    labels = np.arange(203) % 2
    batches = list(data.pipeline(texts, labels, 16, max_length=50, shuffle=True, seed=1))
    assert len(batches) == 13
    seen = sorted(t.decode() for batch, _ in batches for t in batch.numpy())
    assert seen == sorted(texts)
    spreads = [np.ptp([min(50, len(t.split())) for t in batch.numpy()]) for batch, _ in batches]
    assert np.median(spreads) < 20  # similar lengths together, not random 1..89
