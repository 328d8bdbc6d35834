"""SentencePiece subwords (`apps.common.subwords`) against independent oracles.

The oracles: Python's `unicodedata` NFKC plus SentencePiece's documented
`nmt_nfkc` extras (for what the layer reads), the `sentencepiece` Python
library (for the ids and the text it writes back), `TextVectorization` (for
the shapes), and a fresh Python process (for what a saved model holds).
"""

import base64
import hashlib
import io
import json
import random
import subprocess
import sys
import unicodedata
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import keras
from apps.common import subwords

REPO = Path(__file__).resolve().parents[3]
UNK_ID, START_ID, END_ID = 1, 2, 3

# --- the training sentences ------------------------------------------------------

_GERMAN = (["Ein Mann", "Eine Frau", "Zwei Kinder", "Ein großer Hund", "Drei Mädchen",
            "Ein älterer Herr", "Die Straßenbahn"],
           ["fährt", "läuft", "spielt", "schläft", "springt", "wartet", "grüßt"],
           ["über die Straße", "im Schnee", "vor dem Gebäude", "am Flussufer",
            "in der Küche", "auf einer Brücke", "neben dem Café"])
_SPANISH = (["Un hombre", "Una niña", "Dos perros", "El señor", "La mujer",
             "Un niño pequeño"],
            ["corre", "está comiendo", "juega", "camina", "baila", "mira"],
            ["en la playa", "por la montaña", "junto al árbol", "en el jardín",
             "con su mamá", "bajo la lluvia"])
_ENGLISH = (["A man", "Two women", "A little girl", "Three boys", "An old dog"],
            ["is riding", "walks", "plays", "jumps", "sits"],
            ["on a bicycle", "in the park", "near a fountain", "at the beach"])


def training_sentences(count=300, seed=0):
    """Real-looking German, Spanish and English captions, some as questions or with numbers."""
    rng = random.Random(seed)
    sentences = []
    for index in range(count):
        subject, verb, place = (rng.choice(part) for part in
                                (_GERMAN, _SPANISH, _ENGLISH)[index % 3])
        sentence = f"{subject} {verb} {place}"
        if index % 3 == 1 and rng.random() < 0.3:
            sentence = f"¿{sentence}?"
        elif rng.random() < 0.2:
            sentence = f"{sentence}, {rng.randint(2, 99)} Meter weit!"
        else:
            sentence += "."
        sentences.append(sentence)
    return sentences


@pytest.fixture(scope="module")
def proto():
    return subwords.learn_subwords(training_sentences(), vocab_size=600)


@pytest.fixture(scope="module")
def layer(proto):
    return subwords.SubwordVectorizer(proto, name="source_vectorizer")


@pytest.fixture(scope="module")
def reference(proto):
    """The sentencepiece Python library on the same model: the oracle for ids and text."""
    import sentencepiece as spm

    return spm.SentencePieceProcessor(model_proto=proto)


# --- the normaliser the layer is checked against ---------------------------------

# SentencePiece's nmt_nfkc (its builder.cc, BuildNmtNFKCMap) is NFKC plus:
# controls it deletes (not U+0000, U+0080..U+008E, U+0090..U+009E: they are kept,
# as Python's NFKC keeps them) ...
_DELETED = dict.fromkeys([*range(0x01, 0x09), 0x0B, *range(0x0E, 0x20), 0x7F, 0x8F, 0x9F])
# ... characters it makes a space (tab, newlines, zero-width and direction marks,
# U+2581 which it uses itself to mark spaces, the replacement character) ...
_TO_SPACE = dict.fromkeys([0x09, 0x0A, 0x0C, 0x0D, 0x061C, 0x1680, 0x200B, 0x200C, 0x200E,
                           0x200F, 0x2028, 0x2029, 0x2581, 0xFEFF, 0xFFFD], " ")
# ... and the full-width tilde, which NFKC would make "~", kept (Japanese uses both).
_KEPT = "\uff5e"


def nmt_nfkc(text):
    """What SentencePiece's nmt_nfkc makes of a text, written with `unicodedata`.

    NFKC first (which already turns no-break and em/ideographic spaces into
    U+0020), then the deletions and spaces above, then SentencePiece's own
    whitespace rule: runs of U+0020, and only U+0020, become one; the ends are
    stripped. So U+000B and U+001C..U+001F vanish and U+0085 stays, where
    Python's str.split() would treat all of them as whitespace.
    """
    text = _KEPT.join(unicodedata.normalize("NFKC", part) for part in text.split(_KEPT))
    text = text.translate({**_DELETED, **_TO_SPACE})
    return " ".join(word for word in text.split(" ") if word)


def nfkc_per_character(text):
    """Whether NFKC works on each character alone (composes or reorders nothing across two).

    SentencePiece does NFKC with a precompiled longest-match table (the NFKC of
    each character, and of the canonical decompositions of precomposed ones, so
    "e" + U+0301 -> "é"), not the full algorithm: it does not put combining
    marks into canonical order ("a" U+0301 U+0323 stays, NFKC gives "ạ" U+0301),
    nor compose across a mark or onto a precomposed character ("a" U+0316
    U+0301, "ạ" U+0302, "가" U+11A8 stay as they are). The oracle cannot say
    which of these the table holds, so the property leaves out texts where
    NFKC acts across characters; the common cases are checked on their own
    (`test_decomposed_accents_are_composed`).
    """
    return unicodedata.normalize("NFKC", text) == "".join(
        unicodedata.normalize("NFKC", char) for char in text)


# The characters the texts are drawn from: any assigned code point, plus (drawn as
# often) what real sentences and the corner cases of nmt_nfkc hold.
_CHOSEN = (
    "abcxyzABCXYZ0123456789"
    "äöüÄÖÜßéèêáíóúñÑçÇ¿¡"
    ".,;:!?'\"()[]-–—…«»„“”‘’/%€$&@#"
    "日本語中文字한국어"
    "😀🐕🦜👍🏽👩‍💻🇩🇪"  # astral, a skin tone, a ZWJ sequence, a flag
    "ﬁ①ｆｕｌｌ½²™"  # compatibility characters NFKC rewrites
    "\u0301\u0308\u0303"  # combining accents
    " \t\n\r\u00a0\u2003\u3000\u200b\u2028\ufeff\u2581\ufffd"  # spaces of many kinds
    "\x00\x01\x0b\x1c\x1f\x7f\x85\x8f\x9f"  # controls deleted, or kept
    "\uff5e~"
)
# Left out, because they cannot round-trip or the oracle cannot know the answer:
# - Cs, lone surrogates: they have no UTF-8 encoding, so no tf.string holds them;
# - Cn, code points unassigned in Python's Unicode tables (14.0 in Python 3.11):
#   SentencePiece's table comes from a later Unicode where some are letters with an
#   NFKC mapping (U+1CCD6 OUTLINED LATIN CAPITAL LETTER A, Unicode 16, becomes "A").
# Control characters are not left out: nmt_nfkc's rules for them are in the oracle.
_CHARACTERS = st.one_of(st.sampled_from(list(_CHOSEN)),
                        st.characters(exclude_categories=("Cs", "Cn")))
# Sentence-like texts too, so that 50 examples hold words, runs of odd spaces and
# decomposed accents, not only the short strings st.text() favours.
_WORDS = ["Straße", "fährt", "Mädchen", "GRÜSST", "niño", "¿Dónde", "está?", "¡Olé!", "12,5",
          "€3", "Ærøskøbing", "日本語", "한국어", "👩‍💻", "🇩🇪", "👍🏽", "🦜🦜", "ﬁne", "①",
          "ｆｕｌｌ", "½", "Cafe\u0301", "u\u0308ber", "\uff5e"]
_SPACES = [" ", "  ", "\t", "\n", "\r\n", "\u00a0", "\u3000", "\u200b", "\u2028", "\ufeff",
           "\u2581", "\x0b", "\x1c", "\x85", "\x00"]
_TEXTS = st.one_of(
    st.text(alphabet=_CHARACTERS, max_size=40),
    st.lists(st.one_of(st.sampled_from(_WORDS), st.sampled_from(_SPACES),
                       st.text(alphabet=_CHARACTERS, min_size=1, max_size=6)),
             max_size=12).map("".join))
# database=None: no example database in the working tree.
_PROPERTY = settings(max_examples=50, deadline=None, database=None,
                     suppress_health_check=[HealthCheck.too_slow])


@_PROPERTY
@given(_TEXTS)
def test_any_text_comes_back_normalised_and_never_unknown(layer, reference, text):
    assume(nfkc_per_character(text))
    ids = layer([text]).numpy()
    assert UNK_ID not in ids
    assert ids[0].tolist() == reference.encode(text)  # the graph op and the Python library agree
    assert layer.detokenize(ids) == [nmt_nfkc(text)]


def test_the_oracle_is_sentencepiece_normaliser_on_every_single_character():
    """Every assigned code point (between two characters it cannot compose with): exact."""
    import sentencepiece as spm

    normaliser = spm.SentencePieceNormalizer(rule_name="nmt_nfkc")
    differ = []
    for code in range(0x110000):
        char = chr(code)
        if unicodedata.category(char) in ("Cs", "Cn"):
            continue
        got = normaliser.normalize(f"|{char}|").replace("\u2581", " ").strip(" ")
        if got != nmt_nfkc(f"|{char}|"):
            differ.append(hex(code))
    assert differ == []


@pytest.mark.parametrize("decomposed, composed", [
    ("Cafe\u0301", "Café"), ("u\u0308ber Stra\u00dfe", "über Straße"), ("Nin\u0303o", "Niño"),
    ("\u1100\u1161\u11a8", "각"), ("ﬁne  ①\t", "fine 1")])
def test_decomposed_accents_are_composed(layer, decomposed, composed):
    assert layer.detokenize(layer([decomposed])) == [composed]


def test_words_never_seen_in_training_are_spelled_not_unknown(layer, reference):
    unseen = ["Quetzalcóatl fotografía un ñandú 🦜 im Wüstenstaub 🇩🇪",
              "Ωμέγα 日本語 👩🏽‍💻 Ærøskøbing ẞ"]
    ids = layer(unseen).numpy()
    assert UNK_ID not in ids
    assert layer.detokenize(ids) == unseen
    # The emoji are spelled with byte pieces (ids 4..259), one per UTF-8 byte.
    parrot = reference.encode("🦜", out_type=str)
    assert parrot[-4:] == ["<0xF0>", "<0x9F>", "<0xA6>", "<0x9C>"]


def test_ids_are_int64_zero_padded_without_start_or_end(layer, reference):
    texts = ["Ein Mann fährt über die Straße.", "", "Un perro", "   ",
             "Zwei Kinder spielen im Schnee, 12 Meter weit! 😀"]
    ids = layer(texts)
    assert ids.dtype == tf.int64
    ids = ids.numpy()
    lengths = [len(reference.encode(text)) for text in texts]
    assert ids.shape == (len(texts), max(lengths))
    for row, text, length in zip(ids, texts, lengths):
        assert row[:length].tolist() == reference.encode(text)
        assert (row[:length] > END_ID).all() and (row[length:] == 0).all()
    assert not np.isin(ids, [START_ID, END_ID]).any()


def test_pieces_and_vocabulary_spell_the_ids(layer):
    vocabulary = layer.get_vocabulary()
    assert vocabulary[:5] == ["", "[UNK]", "[START]", "[END]", "<0x00>"]
    assert vocabulary[259] == "<0xFF>"
    assert layer.vocabulary_size() == len(vocabulary) == len(set(vocabulary))
    texts = ["Una niña juega en el jardín.", "Ein älterer Herr 🐕"]
    lookup = {piece: index for index, piece in enumerate(vocabulary)}
    expected = [[lookup[piece] for piece in pieces] for pieces in layer.pieces(texts)]
    ids = layer(texts).numpy()
    assert [row[:len(want)].tolist() for row, want in zip(ids, expected)] == expected


def test_python_ids_are_the_graph_ids_unpadded(layer, reference):
    texts = ["Ein Mann fährt über die Straße.", "", "Zwei Kinder 😀"]
    graph = layer(texts).numpy()
    python = layer.ids(texts)
    assert python == [reference.encode(text) for text in texts]
    assert [row[:len(want)].tolist() for row, want in zip(graph, python)] == python


def test_shapes_are_those_of_text_vectorization(layer):
    words = keras.layers.TextVectorization(vocabulary=["a"])
    inputs = [["a b", "a"], tf.constant([["a b"], ["a"]]), "a b", [""],
              tf.constant([], tf.string), np.array(["a"], dtype=object)]
    for value in inputs:
        ours, theirs = layer(value), words(value)
        assert ours.dtype == theirs.dtype == tf.int64
        assert ours.shape.rank == theirs.shape.rank
        assert ours.shape[:-1] == theirs.shape[:-1]
    assert layer([""]).shape == words([""]).shape == (1, 0)
    symbolic = layer(keras.Input((), dtype="string"))
    assert symbolic.shape == (None, None) and symbolic.dtype == "int64"


def test_tf_data_map_gives_the_eager_ids(layer):
    texts = ["Ein Mann läuft.", "La mujer baila en la playa con su mamá.", "🦜"]
    dataset = tf.data.Dataset.from_tensor_slices(texts).batch(3).map(layer)
    (batch,) = list(dataset)
    np.testing.assert_array_equal(batch.numpy(), layer(texts).numpy())
    # A layer first used inside the traced map (its op made there) still works eagerly after.
    fresh = subwords.SubwordVectorizer(layer.get_config()["proto"])
    (batch,) = list(tf.data.Dataset.from_tensor_slices(texts).batch(3).map(fresh))
    np.testing.assert_array_equal(batch.numpy(), fresh(texts).numpy())


def test_detokenize_cuts_at_end_or_padding(layer):
    ids = layer(["Ein Hund läuft.", "Un niño"]).numpy().tolist()
    dog, boy = ids[0], [i for i in ids[1] if i]
    sequences = [[START_ID, *dog], [*boy, END_ID, *dog], [*boy, 0, *dog], [END_ID, *boy], []]
    assert layer.detokenize(sequences) == ["Ein Hund läuft.", "Un niño", "Un niño", "", ""]
    assert layer.detokenize(np.array([boy + [0] * 3])) == ["Un niño"]


@_PROPERTY
@given(st.data())
def test_detokenize_graph_equals_detokenize(layer, data):
    """On any batch of ids a model might write: [END] anywhere, stray bytes, [UNK], padding."""
    size = layer.vocabulary_size()
    rows = data.draw(st.lists(st.lists(st.integers(0, size - 1), max_size=12),
                              min_size=1, max_size=5))
    width = max(len(row) for row in rows)
    ids = np.array([row + [0] * (width - len(row)) for row in rows], np.int64)
    graph = [text.decode("utf-8") for text in layer.detokenize_graph(ids).numpy().tolist()]
    assert graph == layer.detokenize(ids)


def test_detokenize_graph_on_a_batch_of_sentences(layer):
    texts = ["Ein großer Hund springt im Schnee.", "¿Un hombre corre por la montaña?",
             "Three boys 👍🏽 near a fountain", ""]
    ids = layer(texts)
    graph = tf.function(layer.detokenize_graph)(ids).numpy().tolist()
    assert [text.decode("utf-8") for text in graph] == layer.detokenize(ids) == texts


@pytest.mark.parametrize("model_type", ["unigram", "bpe"])
def test_the_same_sentences_learn_the_same_proto(model_type):
    sentences = training_sentences(120, seed=1)
    first = subwords.learn_subwords(sentences, 400, model_type=model_type)
    assert subwords.learn_subwords(sentences, 400, model_type=model_type) == first
    layer = subwords.SubwordVectorizer(first)
    assert layer.detokenize(layer(sentences[:5])) == sentences[:5]


def test_learning_writes_nothing_on_stderr(capfd):
    subwords.learn_subwords(training_sentences(50), 320)
    assert capfd.readouterr().err == ""


def test_config_holds_the_whole_model(layer):
    config = layer.get_config()
    json.dumps(config)  # plain JSON, as .keras files hold it
    copy = subwords.SubwordVectorizer.from_config(config)
    assert copy.get_vocabulary() == layer.get_vocabulary()
    assert not copy.trainable and copy.weights == []
    text = ["Ein Mann wartet am Flussufer."]
    np.testing.assert_array_equal(copy(text).numpy(), layer(text).numpy())


def test_the_model_outlives_set_random_seed_and_clear_session(proto):
    """Both empty TensorFlow's eager kernel cache, which owns TensorFlow Text's own resource."""
    fresh = subwords.SubwordVectorizer(proto)
    texts = ["Ein Hund läuft 🐕"]
    before = fresh(texts).numpy()
    dataset = tf.data.Dataset.from_tensor_slices(texts).batch(1).map(fresh)
    keras.utils.set_random_seed(0)
    keras.utils.clear_session()
    np.testing.assert_array_equal(fresh(texts).numpy(), before)
    np.testing.assert_array_equal(next(iter(dataset)).numpy(), before)
    assert fresh.detokenize_graph(before).numpy().tolist() == [texts[0].encode("utf-8")]


_FRESH_PROCESS = """
import hashlib, json, sys
import tensorflow as tf, tensorflow_text  # the SavedModel needs only TensorFlow Text's ops
exported = tf.saved_model.load(sys.argv[2])
served = exported.serving_default(sentence=tf.constant(json.loads(sys.argv[3])))
import keras
import apps.common.subwords as subwords  # registers the layer
model = keras.models.load_model(sys.argv[1])  # safe_mode on
texts = json.loads(sys.argv[3])
learned = subwords.learn_subwords(json.loads(sys.argv[4]), 400)
print(json.dumps({"ids": model(tf.constant(texts))[0].numpy().tolist(),
                  "served": {k: [[*map(int, row)] if v.dtype.is_integer else row.decode()
                                 for row in v.numpy()] for k, v in served.items()},
                  "proto_sha256": hashlib.sha256(learned).hexdigest()}))
"""


def test_saved_models_keep_their_vocabularies_in_a_fresh_process(layer, tmp_path):
    """Loaded in another Python (another hash seed too), with nothing but the saved files.

    A .keras file (the layer beside a trainable one) and a SavedModel export
    with two vectorisers, as translation's has (source and target): each must
    come back with its own model.
    """
    strings = keras.Input((), dtype="string", name="sentence")
    ids = layer(strings)
    embedded = keras.layers.Embedding(layer.vocabulary_size(), 4, mask_zero=True)(ids)
    model = keras.Model(strings, [ids, keras.layers.GlobalAveragePooling1D()(embedded)])
    model.save(tmp_path / "tiny.keras")

    target = subwords.SubwordVectorizer(
        subwords.learn_subwords(training_sentences(90)[2::3], 320), name="target")
    both = keras.Model(strings, [layer(strings), target(strings)])
    archive = keras.export.ExportArchive()
    archive.track(both)

    def serve(sentence):
        source_ids, target_ids = both(sentence)
        return {"source_ids": source_ids, "target_ids": target_ids,
                "source_text": layer.detokenize_graph(source_ids),
                "target_text": target.detokenize_graph(target_ids)}

    archive.add_endpoint("serving_default", serve,
                         input_signature=[tf.TensorSpec([None], tf.string, name="sentence")])
    archive.write_out(str(tmp_path / "export"), verbose=False)

    texts = ["Eine Frau grüßt in der Küche.", "Dos perros juegan 🐕🐕", "日本"]
    sentences = training_sentences(120, seed=2)
    result = subprocess.run(
        [sys.executable, "-c", _FRESH_PROCESS, str(tmp_path / "tiny.keras"),
         str(tmp_path / "export"), json.dumps(texts), json.dumps(sentences)],
        cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert loaded["ids"] == layer(texts).numpy().tolist()
    served = loaded["served"]
    assert served["source_ids"] == layer(texts).numpy().tolist()
    assert served["target_ids"] == target(texts).numpy().tolist() != served["source_ids"]
    # Each model spells the texts its own way, and each spells them back.
    assert served["source_text"] == served["target_text"] == texts
    here = subwords.learn_subwords(sentences, 400)
    assert loaded["proto_sha256"] == hashlib.sha256(here).hexdigest()


# --- bad arguments ---------------------------------------------------------------

@pytest.mark.parametrize("vocab_size, message", [
    (100, r"at least 261.*Received: vocab_size=100"),
    (260, r"at least 261.*Received: vocab_size=260"),
    ("8000", r"an int.*Received: vocab_size='8000'"),
    (True, r"an int.*Received: vocab_size=True"),
])
def test_vocab_size_below_the_reserved_ids_is_refused(vocab_size, message):
    with pytest.raises(ValueError, match=message):
        subwords.learn_subwords(["Ein Mann."], vocab_size)


def test_vocab_size_below_the_characters_of_the_sentences_is_refused():
    sentences = training_sentences(60)
    characters = {char for sentence in sentences for char in sentence if char != " "}
    needed = subwords.RESERVED_IDS + len(characters) + 1  # "▁" (a space) is one too
    with pytest.raises(ValueError, match=rf"at least {needed}\. Received: vocab_size=280"):
        subwords.learn_subwords(sentences, 280)
    subwords.learn_subwords(sentences, needed)


@pytest.mark.parametrize("sentences, message", [
    ([], r"No sentences.*is empty"),
    (["", "   "], r"No sentences.*only empty sentences \(2\)"),
    (iter([]), r"No sentences"),
    ("Ein Mann fährt.", r"not a single str"),
    (["Ein Mann.", None], r"sentences\[1\]=None"),
])
def test_no_sentences_are_refused(sentences, message):
    with pytest.raises(ValueError, match=message):
        subwords.learn_subwords(sentences, 300)


def test_an_unknown_model_type_is_refused():
    with pytest.raises(ValueError, match=r"model_type.*\('unigram', 'bpe'\).*'word'"):
        subwords.learn_subwords(["Ein Mann."], 300, model_type="word")


def _default_sentencepiece_model():
    """A SentencePiece model with its own default ids (unk 0, bos 1, eos 2, no padding)."""
    import sentencepiece as spm

    model = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(training_sentences(30)),
                                   model_writer=model, vocab_size=60, minloglevel=2)
    return model.getvalue()


@pytest.mark.parametrize("proto, message", [
    (b"not a model", r"not a SentencePiece model \(11 bytes"),
    (b"", r"not a SentencePiece model \(0 bytes"),
    ("not base64!", r"not base64"),
    (base64.b64encode(b"not a model").decode(), r"not a SentencePiece model"),
    (12, r"bytes of a SentencePiece model.*type int"),
    (_default_sentencepiece_model, r"other special ids.*\(-1, 0, 1, 2\)"),
])
def test_a_proto_that_is_not_a_sentencepiece_model_is_refused(proto, message):
    if callable(proto):
        proto = proto()
    with pytest.raises(ValueError, match=message):
        subwords.SubwordVectorizer(proto)
