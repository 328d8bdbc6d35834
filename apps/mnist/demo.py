"""The MNIST page of `rnn-suite mnist demo`: a digit drawn on a sketchpad or an uploaded image in,
its class, the top probabilities and how the prediction forms while the pixels arrive out.

The class comes from `evaluation.classify_images`, as `predict` prints it: the
same centring and inversion (`data.to_model_input`) for a drawing as for a file.
The picture is `pictures.prediction_forming` of the digit as the model reads it,
the one `evaluate` draws for test digits.
"""

import os
import tempfile

from apps.common import demo as common_demo
from apps.mnist import NAME
from apps.mnist.config import MnistConfig

CONFIG_CLASS = MnistConfig

TOP = 3  # the classes shown, as `predict --top` prints by default
EXAMPLE_DIGITS = 6  # test digits of the run offered as examples, of different classes
CANVAS = 280  # the sketchpad's side in pixels (10 x MNIST's 28)
BRUSH = 22


def classified(model, image):
    """`(line, {class: probability}, forming picture)` for one PIL image, as `predict` answers.

    Raises:
        DemoInputError: If the image holds no digit (blank, or one flat colour).
    """
    from PIL import Image

    from apps.mnist import data, evaluation, pictures

    (line, _, probabilities, pixels), = evaluation.classify_images(model, [image], TOP)
    if not pixels.any():
        raise common_demo.DemoInputError("no digit in the image (it is blank, or one flat "
                                         "colour): draw or upload a digit first")
    handle, path = tempfile.mkstemp(suffix=".png", prefix="mnist-demo-")
    os.close(handle)
    try:
        pictures.prediction_forming(model, pixels[None], [None], path, data.CLASS_NAMES)
        with Image.open(path) as written:
            picture = written.copy()
    finally:
        os.unlink(path)
    top = sorted(range(len(probabilities)), key=lambda k: -probabilities[k])[:TOP]
    return line, {data.CLASS_NAMES[k]: probabilities[k] for k in top}, picture


def drawn_image(sketch):
    """The composite of the sketchpad's value (a dict: background, layers, composite)."""
    image = sketch.get("composite") if isinstance(sketch, dict) else None
    if image is None:
        raise common_demo.DemoInputError("nothing drawn: draw a digit on the sketchpad first")
    return image


def test_examples(trained, folder):
    """A few test digits of the run's dataset as PNG files in `folder`, or [] when its data is
    not on this machine (the page does not download it)."""
    import numpy as np
    from PIL import Image

    from apps.common import data_mirror
    from apps.mnist import data

    try:
        if trained.model.input_shape[1] == 8:
            digits = data.load(want="digits")
        elif data_mirror.data_root(trained.config.data_dir if trained.config else None):
            digits = data.load(source="files", data_dir=trained.config and trained.config.data_dir,
                               want="mnist")
        else:
            return []
    except Exception:  # noqa: BLE001 - examples are a convenience: the page works without
        return []
    _, first_of_class = np.unique(digits.y_test, return_index=True)
    paths = []
    for index in np.sort(first_of_class)[:EXAMPLE_DIGITS]:
        path = os.path.join(folder, f"test digit {int(digits.y_test[index])} (#{index}).png")
        Image.fromarray(np.asarray(digits.x_test[index], np.uint8)).save(path)
        paths.append(path)
    return paths


def render(trained, options, prefix=NAME):
    """Lay out the page inside the current `gradio.Blocks`."""
    import gradio as gr

    model = trained.model
    size = model.input_shape[1]
    gr.Markdown(common_demo.run_summary(NAME, trained, ("test accuracy", "test_accuracy")))
    gr.Markdown(common_demo.limits_note(
        f"an image file of at most {common_demo.MAX_IMAGE_BYTES // 2**20} MB and "
        f"{common_demo.MAX_IMAGE_PIXELS:,} pixels (PNG, JPEG, ...; made white on black, "
        f"centred and resized to the model's {size}x{size}, as predict does)"))
    with gr.Row():
        with gr.Column():
            with gr.Tab("Draw"):
                sketch = gr.Sketchpad(
                    label="Draw a digit (pick the brush on the left first)", type="pil", canvas_size=(CANVAS, CANVAS),
                    brush=gr.Brush(default_size=BRUSH, colors=["#000000"], color_mode="fixed"),
                    layers=False, elem_id=f"{prefix}-sketch")
                go_drawing = gr.Button("Classify the drawing", variant="primary",
                                       elem_id=f"{prefix}-go-drawing")
            with gr.Tab("Upload"):
                upload = gr.File(label="An image of a digit", file_types=["image"],
                                 type="filepath", elem_id=f"{prefix}-upload")
                go_upload = gr.Button("Classify the image", variant="primary",
                                      elem_id=f"{prefix}-go-upload")
        with gr.Column():
            line = gr.Textbox(label="Class  (top probabilities)", interactive=False,
                              elem_id=f"{prefix}-class")
            top = gr.Label(label="Top classes", num_top_classes=TOP, elem_id=f"{prefix}-top")
    forming = gr.Image(label="How the prediction forms while the pixels arrive", type="pil",
                       format="png",
                       interactive=False, elem_id=f"{prefix}-forming")
    outputs = [line, top, forming]

    @common_demo.answer
    def classify_drawing(value):
        return classified(model, drawn_image(value))

    @common_demo.answer
    def classify_image(path):
        return classified(model, common_demo.checked_image_file(path))

    go_drawing.click(classify_drawing, sketch, outputs, api_name=f"{prefix}_classify_drawing")
    go_upload.click(classify_image, upload, outputs, api_name=f"{prefix}_classify")
    examples = test_examples(trained, tempfile.mkdtemp(prefix="mnist-demo-examples-"))
    if examples:
        gr.Examples([[path] for path in examples], upload,
                    label="Test digits of the run (pick one, then Classify the image)")
    else:
        gr.Markdown("No test digits as examples: the run's dataset is not on this machine.")
