"""Captioning data: decoding any image, every caption source, and every bad input, on tiny files."""

import io
import json
import os
import tarfile
import zipfile

import numpy as np
import pytest
from PIL import Image

from apps.captioning import caption_sources, coco_records, data, image_stores
from apps.captioning.caption_corpus import SPLITS
from apps.captioning.config import CaptioningConfig
from apps.captioning.images import decode_image, read_image_file
from apps.common.errors import UsageError

MIRROR = os.environ.get("RNN_SUITE_DATA")
COLOURS = {"red": (255, 0, 0), "green": (0, 160, 0), "blue": (0, 0, 255), "white": (255, 255, 255),
           "black": (0, 0, 0), "yellow": (255, 255, 0)}


def encode(image, fmt="PNG", **options):
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def jpeg(colour=(255, 0, 0), size=(24, 16)):
    return encode(Image.new("RGB", size, colour), "JPEG", quality=95)


def config(**settings):
    return CaptioningConfig(**settings)


# ----------------------------------------------------------------- decoding images

def test_every_mode_becomes_8bit_rgb_of_the_asked_size():
    cases = {
        "grayscale": (Image.new("L", (40, 30), 100), (100, 100, 100)),
        "1-bit": (Image.new("1", (40, 30), 1), (255, 255, 255)),
        "palette": (Image.new("RGB", (40, 30), (0, 0, 255)).convert("P"), (0, 0, 255)),
        "transparent RGBA on white": (Image.new("RGBA", (40, 30), (255, 0, 0, 0)),
                                      (255, 255, 255)),
        "opaque RGBA": (Image.new("RGBA", (40, 30), (255, 0, 0, 255)), (255, 0, 0)),
        "half-transparent LA": (Image.new("LA", (40, 30), (0, 128)), (127, 127, 127)),
    }
    for what, (image, expected) in cases.items():
        pixels = decode_image(encode(image), what, 16)
        assert pixels.shape == (16, 16, 3) and pixels.dtype == np.uint8, what
        np.testing.assert_allclose(pixels[8, 8], expected, atol=2, err_msg=what)


def test_transparent_palette_colour_and_cmyk_jpeg():
    palette = Image.new("P", (10, 10), 0)
    palette.putpalette([0, 0, 0, 255, 0, 0])
    palette.paste(1, (5, 0, 10, 10))
    pixels = decode_image(encode(palette, transparency=0), "p.png", 10)
    assert tuple(pixels[5, 0]) == (255, 255, 255) and tuple(pixels[5, 9]) == (255, 0, 0)
    cmyk = decode_image(encode(Image.new("CMYK", (10, 10), (0, 255, 255, 0)), "JPEG"), "c", 8)
    np.testing.assert_allclose(cmyk[4, 4], (255, 0, 0), atol=3)


def test_16bit_png_is_scaled_not_clipped():
    values = np.full((20, 40), 65535, np.uint16)
    values[:, :20] = 32768
    values[:10, :20] = 1000
    png = encode(Image.fromarray(values))
    assert Image.open(io.BytesIO(png)).mode.startswith("I")
    pixels = decode_image(png, "deep.png", 40)
    assert pixels.shape == (40, 40, 3)
    assert tuple(pixels[30, 35]) == (255, 255, 255)
    assert tuple(pixels[30, 5]) == (128, 128, 128)
    assert tuple(pixels[5, 5]) == (4, 4, 4)  # 1000 / 257, not clipped to 255
    # A 32-bit "I" image holding 16-bit values is scaled the same way (as a TIFF: Pillow
    # writes no "I" PNGs); a float image in [0, 1] spans 0..255.
    as_int32 = decode_image(encode(Image.fromarray(values.astype(np.int32)), "TIFF"), "i", 40)
    np.testing.assert_array_equal(as_int32, pixels)
    as_float = decode_image(encode(Image.fromarray(values / np.float32(65535)), "TIFF"), "f", 40)
    np.testing.assert_allclose(as_float, pixels, atol=1)


def test_large_jpeg_is_decoded_cheaply_and_squashed():
    # 4000x3000: left half red, right half blue, and the top 10% green.
    image = Image.new("RGB", (4000, 3000), COLOURS["red"])
    image.paste(COLOURS["blue"], (2000, 0, 4000, 3000))
    image.paste(COLOURS["green"], (0, 0, 4000, 300))
    pixels = decode_image(encode(image, "JPEG", quality=90), "big.jpg", 32)
    assert pixels.shape == (32, 32, 3)
    np.testing.assert_allclose(pixels[20, 4], COLOURS["red"], atol=12)
    np.testing.assert_allclose(pixels[20, 28], COLOURS["blue"], atol=12)
    np.testing.assert_allclose(pixels[1, 4], COLOURS["green"], atol=12)  # squashed, not cropped


def test_exif_orientation_is_applied():
    image = Image.new("RGB", (40, 20), COLOURS["red"])
    image.paste(COLOURS["blue"], (0, 0, 20, 20))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    pixels = decode_image(encode(image, "JPEG", exif=exif, quality=95), "phone.jpg", 20)
    np.testing.assert_allclose(pixels[2, 10], COLOURS["blue"], atol=8)  # left half went on top
    np.testing.assert_allclose(pixels[17, 10], COLOURS["red"], atol=8)


@pytest.mark.parametrize("content, match", [
    (jpeg(size=(64, 64))[:300], "truncated or corrupt"),
    (b"caption text, not pixels\n", "not an image.*holds text"),
    (b"", "empty"),
])
def test_bad_image_bytes_are_one_clear_error(tmp_path, content, match):
    path = tmp_path / "photo.jpg"
    path.write_bytes(content)
    with pytest.raises(UsageError, match=match) as raised:
        read_image_file(path, 16)
    assert str(path) in str(raised.value) and "expected an image file" in str(raised.value)


def test_decompression_bomb_limit_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    with pytest.raises(UsageError, match="bomb.jpg is too large to decode safely.*"
                                         "MAX_IMAGE_PIXELS"):
        decode_image(jpeg(size=(100, 100)), "bomb.jpg", 8)


def test_command_line_image_missing_or_a_folder(tmp_path):
    with pytest.raises(UsageError, match="nope.jpg does not exist"):
        read_image_file(tmp_path / "nope.jpg", 8)
    with pytest.raises(UsageError, match="is a folder"):
        read_image_file(tmp_path, 8)
    (tmp_path / "ok.png").write_bytes(encode(Image.new("L", (5, 7), 9)))
    assert read_image_file(tmp_path / "ok.png", 8).shape == (8, 8, 3)


# ----------------------------------------------------------------- Flickr8k layout

SPLIT_NAMES = {"train": [f"{i}_train.jpg" for i in range(6)],
               "dev": [f"{i}_dev.jpg" for i in range(3)],
               "test": [f"{i}_test.jpg" for i in range(3)]}


def fake_flickr8k(root, images="folder", present=None, token_lines=None):
    """A Flickr8k layout under root/flickr8k: text files, and images as a folder or a tar."""
    base = root / "flickr8k"
    text = base / "Flickr8k_text"
    text.mkdir(parents=True)
    everything = [n for names in SPLIT_NAMES.values() for n in names] + ["9_unlisted.jpg"]
    present = everything[:-3] + ["9_unlisted.jpg"] if present is None else present
    if token_lines is None:
        token_lines = [f"{name}#{k}\ta photo of {name.split('.')[0]} number {k} ."
                       for name in everything for k in range(5)]
        token_lines += [f"2258277193_586949ec62.jpg.1#{k}\tpeople waiting" for k in range(5)]
    (text / "Flickr8k.token.txt").write_text("\n".join(token_lines) + "\n")
    for split, names in SPLIT_NAMES.items():
        (text / f"Flickr_8k.{split}Images.txt").write_text("\n".join(names) + "\n")
    files = {f"Flicker8k_Dataset/{n}": jpeg((20 * i, 0, 0)) for i, n in enumerate(present)}
    if images == "folder":
        for member, content in files.items():
            (base / member).parent.mkdir(exist_ok=True)
            (base / member).write_bytes(content)
    else:
        with tarfile.open(base / "Flicker8k_Dataset_subset.tar", "w") as archive:
            for member, content in files.items():
                info = tarfile.TarInfo(member)
                info.size = len(content)
                archive.addfile(info, io.BytesIO(content))
    return base


@pytest.mark.parametrize("images", ["folder", "tar"])
def test_flickr8k_uses_the_images_that_exist_and_says_so(tmp_path, capsys, images):
    fake_flickr8k(tmp_path, images)
    corpus = data.load(config(dataset="auto", data_dir=str(tmp_path)))
    assert corpus.name == "flickr8k"
    assert corpus.train.names == SPLIT_NAMES["train"]
    assert corpus.validation.names == SPLIT_NAMES["dev"]
    assert corpus.test.names == SPLIT_NAMES["test"][:1]  # two test images are missing
    assert all(len(c) == 5 for s in SPLITS for c in corpus.split(s).captions)
    assert corpus.train.captions[0][1] == "a photo of 0_train number 1 ."
    assert "test 1 of 3 listed images" in corpus.description
    assert ("tar" if images == "tar" else "folder") in corpus.description
    warnings = capsys.readouterr().err.strip().splitlines()
    assert len(warnings) == 1  # the bogus name and the two missing test images: one line
    assert warnings[0].startswith("warning: 15 captions name images not found in")
    assert warnings[0].endswith("skipped")
    pixels, skipped = corpus.store.load(corpus.test.names + corpus.train.names[:2], 12)
    assert pixels.shape == (3, 12, 12, 3) and pixels.dtype == np.uint8 and skipped == []


def test_flickr8k_asked_for_but_absent_names_the_files_and_places(tmp_path, monkeypatch):
    with pytest.raises(UsageError, match=r"lacks Flickr8k: expected .*Flickr8k\.token\.txt.*"
                                         r"Flickr_8k\.trainImages\.txt.*Flicker8k_Dataset/"):
        data.load(config(dataset="flickr8k", data_dir=str(tmp_path)))
    monkeypatch.delenv("RNN_SUITE_DATA", raising=False)
    with pytest.raises(UsageError, match="needs --data-dir or \\$RNN_SUITE_DATA"):
        data.load(config(dataset="flickr8k"))


def test_flickr8k_captions_without_images_is_an_error(tmp_path):
    fake_flickr8k(tmp_path, "folder", present=[])
    (tmp_path / "flickr8k" / "Flicker8k_Dataset").mkdir()
    (tmp_path / "flickr8k" / "Flicker8k_Dataset" / "notes.txt").write_text("no pictures")
    with pytest.raises(UsageError, match="Flicker8k_Dataset holds no images"):
        data.load(config(dataset="flickr8k", data_dir=str(tmp_path)))


def test_flickr8k_split_without_images_names_the_split(tmp_path):
    fake_flickr8k(tmp_path, "tar", present=SPLIT_NAMES["train"] + SPLIT_NAMES["test"])
    with pytest.raises(UsageError, match=r"the validation split has no images: none of the 3 "
                                         r"images listed in .*devImages\.txt is in tar"):
        data.load(config(dataset="flickr8k", data_dir=str(tmp_path)))


def test_flickr8k_nothing_left_after_skipping_missing_images(tmp_path):
    fake_flickr8k(tmp_path, "folder", present=["unrelated.jpg"])
    with pytest.raises(UsageError, match="none of the 14 images named in .*token.txt is in"):
        data.load(config(dataset="flickr8k", data_dir=str(tmp_path)))


@pytest.mark.parametrize("bad_line, problem", [
    ("0_train.jpg#5 a caption without a tab", "line 3 has no tab"),
    ("0_train.jpg#5\t   ", "line 3 has an empty caption"),
])
def test_flickr8k_malformed_token_lines(tmp_path, capsys, bad_line, problem):
    lines = [f"{n}#{k}\ta picture of {n}" for names in SPLIT_NAMES.values() for n in names
             for k in range(2)]
    lines.insert(2, bad_line)
    fake_flickr8k(tmp_path, "folder", present=sum(SPLIT_NAMES.values(), []), token_lines=lines)
    with pytest.raises(UsageError, match=f"Flickr8k.token.txt: {problem}.*--skip-bad-lines"):
        data.load(config(dataset="flickr8k", data_dir=str(tmp_path)))
    capsys.readouterr()
    corpus = data.load(config(dataset="flickr8k", data_dir=str(tmp_path), skip_bad_lines=True))
    assert [len(c) for c in corpus.train.captions] == [2] * 6
    warning = capsys.readouterr().err.strip()
    assert warning.count("\n") == 0 and f"skipped 1 malformed lines" in warning
    assert problem in warning


def test_no_data_anywhere_falls_back_to_shapes_and_says_so(tmp_path, monkeypatch):
    monkeypatch.delenv("RNN_SUITE_DATA", raising=False)
    corpus = data.load(config(shapes_images=20, image_size=16))
    assert corpus.name == "shapes" and "no captioning data found" in corpus.description
    assert "using generated shapes" in corpus.description
    empty = data.load(config(data_dir=str(tmp_path), shapes_images=20, image_size=16))
    assert empty.name == "shapes" and f"under --data-dir {tmp_path}" in empty.description
    with pytest.raises(UsageError, match="--images .* needs its captions: --csv"):
        data.load(config(images=str(tmp_path)))


# ----------------------------------------------------------------- image stores

def test_store_key_changes_when_the_file_changes(tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(jpeg())
    store = image_stores.open_store(folder)
    first = store.key("a.jpg")
    assert store.key("a.jpg") == first
    (folder / "a.jpg").write_bytes(jpeg((0, 0, 255), size=(30, 30)))
    os.utime(folder / "a.jpg", ns=(1, 1_000_000_123))
    assert image_stores.open_store(folder).key("a.jpg") != first

    archive = tmp_path / "images.tar"
    with tarfile.open(archive, "w") as tar:
        tar.add(folder / "a.jpg", "pics/a.jpg")
    tar_key = image_stores.open_store(archive).key("a.jpg")
    assert "pics/a.jpg" in tar_key
    with tarfile.open(archive, "w") as tar:
        tar.add(folder / "a.jpg", "pics/a.jpg")
        tar.add(folder / "a.jpg", "pics/b.jpg")
    os.utime(archive, ns=(1, 2_000_000_456))
    assert image_stores.open_store(archive).key("a.jpg") != tar_key


def test_store_load_names_a_bad_image_or_skips_it(tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    (folder / "good.jpg").write_bytes(jpeg())
    (folder / "text.jpg").write_text("not an image")
    (folder / "empty.png").write_bytes(b"")
    (folder / "cut.jpg").write_bytes(jpeg(size=(64, 64))[:300])
    store = image_stores.open_store(folder)
    for bad in ("text.jpg", "empty.png", "cut.jpg", "absent.jpg"):
        with pytest.raises(UsageError, match=bad):
            store.load(["good.jpg", bad], 8)
    pixels, skipped = store.load(["text.jpg", "good.jpg", "empty.png", "cut.jpg", "absent.jpg"],
                                 8, skip_bad=True)
    assert pixels.shape == (1, 8, 8, 3)
    assert skipped == ["text.jpg", "empty.png", "cut.jpg", "absent.jpg"]
    assert store.load(["text.jpg"], 8, skip_bad=True)[0].shape == (0, 8, 8, 3)


def test_zip_and_tar_members_are_found_by_file_name(tmp_path):
    archive = tmp_path / "images.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("Flickr8k_Dataset/a.jpg", jpeg((0, 255, 0)))
        zipped.writestr("__MACOSX/Flickr8k_Dataset/._a.jpg", b"resource fork")
    store = image_stores.open_store(archive)
    assert len(store) == 1 and store.has("a.jpg") and store.has("Flickr8k_Dataset/a.jpg")
    np.testing.assert_allclose(store.load(["a.jpg"], 4)[0][0, 2, 2], (0, 255, 0), atol=3)


def test_images_place_that_is_missing_empty_or_not_an_archive(tmp_path):
    with pytest.raises(UsageError, match="does not exist"):
        image_stores.open_store(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match="holds no images"):
        image_stores.open_store(tmp_path / "empty")
    (tmp_path / "list.txt").write_text("a.jpg\n")
    with pytest.raises(UsageError, match="neither a folder nor a .tar/.zip"):
        image_stores.open_store(tmp_path / "list.txt")


# ----------------------------------------------------------------- CSV

def image_folder(root, count):
    folder = root / "images"
    folder.mkdir()
    for i in range(count):
        (folder / f"img{i}.png").write_bytes(encode(Image.new("RGB", (8, 8), (i, i, i))))
    return folder


def write_csv(path, rows, header="image,caption"):
    path.write_text("\n".join([header] + rows) + "\n", encoding="utf-8")
    return path


def test_csv_is_split_by_image_with_a_fixed_seed(tmp_path):
    folder = image_folder(tmp_path, 30)
    rows = [f"img{i}.png,caption {k} of image {i}" for i in range(30) for k in range(3)]
    path = write_csv(tmp_path / "c.csv", rows)
    corpus = data.load(config(csv=str(path), images=str(folder), seed=1))
    again = data.load(config(csv=str(path), images=str(folder), seed=99))
    assert corpus.name == "csv"
    assert [len(corpus.split(s)) for s in SPLITS] == [24, 3, 3]
    assert all(corpus.split(s).names == again.split(s).names for s in SPLITS)
    seen = [n for s in SPLITS for n in corpus.split(s).names]
    assert sorted(seen) == sorted(f"img{i}.png" for i in range(30))  # no image in two splits
    index = corpus.test.names.index(corpus.test.names[0])
    assert corpus.test.captions[index] == [f"caption {k} of image "
                                           f"{corpus.test.names[0][3:-4]}" for k in range(3)]
    assert "train 24 images (72 captions)" in corpus.description
    small = corpus.limited(2)
    assert [len(small.split(s)) for s in SPLITS] == [2, 2, 2]
    assert small.train.names == corpus.train.names[:2] and corpus.limited(0) is corpus


def test_three_images_give_one_per_split_and_two_are_too_few(tmp_path):
    folder = image_folder(tmp_path, 3)
    path = write_csv(tmp_path / "c.csv", [f"img{i}.png,a grey square" for i in range(3)])
    corpus = data.load(config(csv=str(path), images=str(folder)))
    assert [len(corpus.split(s)) for s in SPLITS] == [1, 1, 1]
    path = write_csv(tmp_path / "c.csv", [f"img{i}.png,a grey square" for i in range(2)])
    with pytest.raises(UsageError, match="names 2 image.*need at least 3"):
        data.load(config(csv=str(path), images=str(folder)))


def test_csv_columns_can_be_renamed_and_images_come_from_a_tar(tmp_path):
    folder = image_folder(tmp_path, 5)
    archive = tmp_path / "images.tar"
    with tarfile.open(archive, "w") as tar:
        tar.add(folder, "images")
    path = write_csv(tmp_path / "c.csv", [f"{i};img{i}.png;a picture" for i in range(5)],
                     header="id;file;text")
    path.write_text(path.read_text().replace(";", ","))
    corpus = data.load(config(csv=str(path), images=str(archive), image_col="file",
                              caption_col="text"))
    assert sum(len(corpus.split(s)) for s in SPLITS) == 5
    assert corpus.store.load(corpus.train.names, 6)[0].shape == (3, 6, 6, 3)


@pytest.mark.parametrize("content, match", [
    ("", "is empty"),
    ("file,text\na.png,x\n", "no column 'image' or 'caption' \\(its columns: 'file', 'text'\\)"),
    ("img0.png,a grey square\nimg1.png,another\n", "looks like data: add a header row"),
    ("image,caption\nimg0.png,fine\nimg1.png,\n", "line 3 has an empty 'caption'"),
    ("image,caption\nimg0.png,fine\n,orphan caption\n", "line 3 has an empty 'image'"),
])
def test_bad_csv_files(tmp_path, content, match):
    folder = image_folder(tmp_path, 3)
    path = tmp_path / "c.csv"
    path.write_text(content)
    with pytest.raises(UsageError, match=match):
        data.load(config(csv=str(path), images=str(folder)))


def test_csv_bad_rows_skipped_on_request_and_utf8_errors(tmp_path, capsys):
    folder = image_folder(tmp_path, 4)
    rows = ["img0.png,one", "img1.png,", "img2.png,three", "img3.png,four", "gone.png,lost"]
    path = write_csv(tmp_path / "c.csv", rows)
    corpus = data.load(config(csv=str(path), images=str(folder), skip_bad_lines=True))
    assert sum(len(corpus.split(s)) for s in SPLITS) == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "skipped 1 malformed rows" in err[0] and "line 3" in err[0]
    assert "1 captions name images not found" in err[1]
    path.write_bytes(b"image,caption\nimg0.png,caf\xe9\n")
    with pytest.raises(UsageError, match="not valid UTF-8: line 2"):
        data.load(config(csv=str(path), images=str(folder)))
    with pytest.raises(UsageError, match="needs --images"):
        data.load(config(csv=str(path)))
    with pytest.raises(UsageError, match="two different datasets"):
        data.load(config(csv=str(path), images=str(folder), dataset="shapes"))


# ----------------------------------------------------------------- Karpathy JSON

def test_karpathy_json_restval_joins_train(tmp_path):
    folder = image_folder(tmp_path, 5)
    (folder / "val2014").mkdir()
    (folder / "val2014" / "img9.png").write_bytes((folder / "img0.png").read_bytes())
    entries = [{"filename": "img0.png", "split": "train",
                "sentences": [{"raw": "a"}, {"raw": "b"}]},
               {"filename": "img1.png", "split": "restval", "sentences": [{"raw": "c"}]},
               {"filename": "img2.png", "split": "val", "sentences": [{"raw": "d"}]},
               {"filename": "img3.png", "split": "test", "sentences": [{"raw": "e"}]},
               {"filepath": "val2014", "filename": "img9.png", "split": "test",
                "sentences": [{"raw": "f"}]}]
    path = tmp_path / "dataset_flickr8k.json"
    path.write_text(json.dumps({"images": entries, "dataset": "flickr8k"}))
    corpus = data.load(config(karpathy_json=str(path), images=str(folder)))
    assert corpus.name == "karpathy"
    assert corpus.train.names == ["img0.png", "img1.png"]
    assert corpus.train.captions == [["a", "b"], ["c"]]
    assert corpus.validation.names == ["img2.png"]
    assert corpus.test.names == ["img3.png", "val2014/img9.png"]
    assert corpus.store.load(corpus.test.names, 4)[0].shape == (2, 4, 4, 3)


@pytest.mark.parametrize("content, match", [
    ('{"images": [', "not valid JSON: .* line 1 column 13"),
    ('{"pictures": []}', 'no list under "images"'),
    ('{"images": [{"filename": "img0.png", "split": "train"}]}', r"images\[0\] has no 'sentences'"),
    ('{"images": [{"filename": "img0.png", "split": "dev", "sentences": []}]}',
     "split 'dev'"),
])
def test_bad_karpathy_json(tmp_path, content, match):
    folder = image_folder(tmp_path, 3)
    path = tmp_path / "k.json"
    path.write_text(content)
    with pytest.raises(UsageError, match=match):
        data.load(config(karpathy_json=str(path), images=str(folder)))


# ----------------------------------------------------------------- tfds coco_captions

def test_coco_not_prepared_says_how_to_prepare_it_and_downloads_nothing(tmp_path, monkeypatch):
    import tensorflow_datasets as tfds

    monkeypatch.setattr(coco_records, "_coco_builder",
                        lambda: tfds.builder("coco_captions", data_dir=str(tmp_path)))
    with pytest.raises(UsageError, match="not prepared in .*20 GB.*`tfds build coco_captions`"):
        data.load(config(dataset="coco"))
    assert not any(tmp_path.rglob("*.tfrecord*"))


def test_coco_records_are_indexed_and_images_read_from_them(tmp_path, monkeypatch):
    """A prepared coco_captions stand-in: records serialised by tfds's own features."""
    import tensorflow as tf
    import tensorflow_datasets as tfds

    features = tfds.features.FeaturesDict({
        "image": tfds.features.Image(encoding_format="jpeg"),
        "image/filename": tfds.features.Text(),
        "captions": tfds.features.Sequence({"text": np.str_, "id": np.int64})})
    colours = {"train": COLOURS["red"], "restval": COLOURS["green"], "val": COLOURS["blue"],
               "test": COLOURS["yellow"]}
    splits = {}
    for split, colour in colours.items():
        file = tmp_path / f"coco_captions-{split}.tfrecord-00000-of-00001"
        with tf.io.TFRecordWriter(str(file)) as writer:
            for i in range(2):
                writer.write(features.serialize_example({
                    "image": jpeg(colour), "image/filename": f"{split}{i}.jpg",
                    "captions": {"text": [f"a {split} photo", "another"], "id": [1, 2]}}))
        splits[split] = type("Split", (), {"filepaths": [file]})()

    class Prepared:
        data_dir = str(tmp_path)
        info = type("Info", (), {"splits": splits, "version": "1.1.0",
                                 "file_format": "tfrecord"})()

        def is_prepared(self):
            return True

    monkeypatch.setattr(coco_records, "_coco_builder", Prepared)
    corpus = data.load(config(dataset="coco"))
    assert corpus.train.names == ["train0.jpg", "train1.jpg", "restval0.jpg", "restval1.jpg"]
    assert corpus.validation.captions[1] == ["a val photo", "another"]
    pixels, _ = corpus.store.load(["test1.jpg", "restval0.jpg"], 4)
    np.testing.assert_allclose(pixels[0, 2, 2], COLOURS["yellow"], atol=4)
    np.testing.assert_allclose(pixels[1, 2, 2], COLOURS["green"], atol=4)
    assert corpus.store.key("val0.jpg").startswith("tfds:coco_captions:1.1.0:")


# ----------------------------------------------------------------- generated shapes

def test_shapes_split_in_order_with_stable_keys_and_any_size():
    corpus = data.load(config(dataset="shapes", shapes_images=20, image_size=16, limit=0))
    assert corpus.name == "shapes"
    assert [len(corpus.split(s)) for s in SPLITS] == [16, 2, 2]
    assert corpus.train.names[0] == "shape_00000.png" and corpus.test.names[-1] == "shape_00019.png"
    assert all(c and all(isinstance(t, str) and t for t in c)
               for s in SPLITS for c in corpus.split(s).captions)
    native, _ = corpus.store.load(corpus.test.names, 16)
    bigger, _ = corpus.store.load(corpus.test.names, 24)
    assert native.shape == (2, 16, 16, 3) and bigger.shape == (2, 24, 24, 3)
    key = corpus.store.key("shape_00019.png")
    assert key.startswith("shapes:v") and key.endswith(":19:16")
    assert data.load(config(dataset="shapes", shapes_images=20, image_size=16)).store.key(
        "shape_00019.png") == key
    assert data.load(config(dataset="shapes", shapes_images=20, image_size=32)).store.key(
        "shape_00019.png") != key
    np.testing.assert_array_equal(
        data.load(config(dataset="shapes", shapes_images=20, image_size=16)).store.load(
            ["shape_00003.png"], 16)[0][0], corpus.store.load(["shape_00003.png"], 16)[0][0])


# ----------------------------------------------------------------- the offline mirror

@pytest.mark.skipif(not MIRROR, reason="needs the offline data mirror: set RNN_SUITE_DATA "
                                       "(e.g. to shared/data)")
def test_mirror_flickr8k_from_the_tar(capsys):
    corpus = data.load(config(dataset="auto"))
    assert corpus.name == "flickr8k"
    assert [len(corpus.split(s)) for s in SPLITS] == [753, 113, 125]
    assert all(len(c) == 5 for s in SPLITS for c in corpus.split(s).captions)
    assert ".tar" in corpus.description and "train 753 of 6,000 listed images" in corpus.description
    assert capsys.readouterr().err.count("\n") == 1  # one warning: the captions without images
    pixels, skipped = corpus.store.load(corpus.test.names[:3], 64)
    assert pixels.shape == (3, 64, 64, 3) and pixels.dtype == np.uint8 and not skipped
    assert pixels.std() > 10  # real photos, not blank


def test_shapes_train_on_the_canonical_wording_and_test_on_every_wording():
    """One wording to learn (left to right, top to bottom); every correct wording scores."""
    from apps.captioning import shapes

    corpus = data.load(CaptioningConfig(dataset="shapes", shapes_images=60, shapes_max=3))
    assert all(len(refs) == 1 for refs in corpus.train.captions + corpus.validation.captions)
    assert any(len(refs) == 2 for refs in corpus.test.captions)
    _, references = shapes.generate(60, image_size=64, max_shapes=3,
                                    seed=caption_sources.SHAPES_SEED)
    assert [refs[0] for refs in corpus.train.captions] == [r[0] for r in references[:48]]
