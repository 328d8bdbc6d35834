"""The captioning page of `rnn-suite captioning demo`: an image in, its caption out, and a
slider over the generated words that lays each word's attention over the image (the
Show, Attend and Tell figure, one word at a time).

The uploaded file is checked (`common_demo.check_image_file`: its size, and
the pixels its header claims, before anything is decoded), then read and
captioned by `evaluation.read_images` and `evaluation.caption_pixels`, as
`predict` does, with the page's beam size (starting at `--beam-size` or the
run's). The attention picture is `pictures.overlaid`, the blend each panel of
`predict --show-attention` draws, over the pixels the model saw.
"""

import tempfile
from pathlib import Path

from apps.common import demo as common_demo
from apps.captioning import NAME
from apps.captioning.config import CaptioningConfig

CONFIG_CLASS = CaptioningConfig

EXAMPLES = 4
DISPLAY_PIXELS = 320  # the side the model's input is shown at


def caption(captioner, config, path, beam_size):
    """`(pixels the model saw, predict's result, warnings)` for one uploaded file."""
    from apps.captioning import evaluation

    beam = common_demo.checked_beam(beam_size)
    common_demo.check_image_file(path)  # before predict's own decoding, below
    pixels = evaluation.read_images([path], config)  # UsageError: shown on the page
    (result,), warnings = evaluation.caption_pixels(captioner, pixels, config, beam)
    return pixels[0], result, warnings


def steps_of(result):
    """The words the attention rows belong to: the caption's, then the end token's row."""
    from apps.common.teacher_forcing import END

    steps = list(result["words"]) + ([END] if result["finished"] else [])
    return steps[:len(result["attention"])]


def shown_pixels(pixels):
    """The model's input, enlarged for the page."""
    from apps.captioning import images as images_module

    return images_module.resize_pixels(pixels, DISPLAY_PIXELS)


def attention_picture(pixels, result, grid, step):
    """`(label, picture)` of word `step` (from 1): its attention laid over the image."""
    from apps.captioning import pictures

    steps = steps_of(result)
    if not steps:
        raise common_demo.DemoInputError("the caption has no words to show the attention of")
    try:
        index = int(step)
    except (TypeError, ValueError):
        index = 0
    if not 1 <= index <= len(steps):
        raise common_demo.DemoInputError(f"pick a word from 1 to {len(steps)}")
    label = f"word {index} of {len(steps)}: {steps[index - 1]}"
    return label, pictures.overlaid(shown_pixels(pixels), result["attention"][index - 1], grid)


def test_examples(trained, folder):
    """A few of the run's test images, written into `folder`, or [] when not at hand."""
    from PIL import Image

    from apps.captioning import data, evaluation

    listing = trained.path.parent / evaluation.CAPTIONS_FILE
    if trained.config is None or not listing.is_file():
        return []
    try:
        names = [line.split("\t")[0] for line in
                 listing.read_text(encoding="utf-8").splitlines()[1:EXAMPLES + 1]]
        store = data.load(trained.config).test_images()
        paths = []
        for number, name in enumerate(names, 1):
            encoded = store.read_bytes(name)
            if len(encoded) > common_demo.MAX_IMAGE_BYTES:
                continue
            path = Path(folder) / f"test_{number}_{Path(name).stem}"
            path.write_bytes(encoded)
            with Image.open(path) as image:
                kind = (image.format or "png").lower()
            paths.append(str(path.rename(path.with_suffix(f".{kind}"))))
        return paths
    except Exception:  # noqa: BLE001 - examples are a convenience: the page works without
        return []


def render(trained, options, prefix=NAME):
    """Lay out the page inside the current `gradio.Blocks`."""
    import gradio as gr

    from apps.captioning import model as model_module

    config = trained.config
    captioner = model_module.Captioner(trained.model)
    beam = min(options.beam_size or config.beam_size, common_demo.MAX_BEAM)
    gr.Markdown(common_demo.run_summary(NAME, trained, ("test CIDEr-D (beam)",
                                                        "beam.CIDEr-D")))
    gr.Markdown(common_demo.limits_note(
        f"an image file of at most {common_demo.MAX_IMAGE_BYTES // 2**20} MB and "
        f"{common_demo.MAX_IMAGE_PIXELS:,} pixels (the model sees it at "
        f"{config.image_size} x {config.image_size})",
        f"a beam of at most {common_demo.MAX_BEAM}",
        f"captions of at most {config.max_output_length} words"))
    with gr.Row():
        with gr.Column():
            upload = gr.File(label="Image file (PNG, JPEG, ...)", file_types=["image"],
                             type="filepath", elem_id=f"{prefix}-image")
            beam_size = gr.Slider(1, common_demo.MAX_BEAM, value=beam, step=1,
                                  label="Beam size (1: greedy)", elem_id=f"{prefix}-beam")
            go = gr.Button("Caption", variant="primary", elem_id=f"{prefix}-go")
            line = gr.Textbox(label="Caption", interactive=False, elem_id=f"{prefix}-caption")
            notes = gr.Markdown(elem_id=f"{prefix}-notes")
        with gr.Column():
            word = gr.Slider(1, config.max_output_length + 1, value=1, step=1, label="Word whose attention is shown",
                             elem_id=f"{prefix}-word")
            shown = gr.Textbox(label="Shown", interactive=False, elem_id=f"{prefix}-shown")
            picture = gr.Image(label="Attention over the image the model saw (light: "
                                     "attended)", type="numpy", format="png",
                               interactive=False, elem_id=f"{prefix}-attention")
    state = gr.State(None)

    @common_demo.answer
    def describe(path, beam_value):
        pixels, result, warnings = caption(captioner, config, path, beam_value)
        note = "".join(f"- warning: {w}\n" for w in warnings)
        steps = steps_of(result)
        if not steps:
            return (result["caption"], note, gr.update(maximum=1, value=1),
                    (pixels, result), "no words", shown_pixels(pixels))
        label, overlay = attention_picture(pixels, result, captioner.grid, 1)
        return (result["caption"], note, gr.update(maximum=len(steps), value=1),
                (pixels, result), label, overlay)

    @common_demo.answer
    def attend(step, held):
        if held is None:
            raise common_demo.DemoInputError("caption an image first")
        pixels, result = held
        return attention_picture(pixels, result, captioner.grid, step)

    go.click(describe, [upload, beam_size], [line, notes, word, state, shown, picture],
             api_name=f"{prefix}_caption")
    word.change(attend, [word, state], [shown, picture], api_name=f"{prefix}_attend")
    folder = tempfile.mkdtemp(prefix="captioning-demo-examples-")
    examples = test_examples(trained, folder)
    if examples:
        gr.Examples([[e] for e in examples], upload, label="Test images of the run")
