"""The SavedModel signatures of an MNIST run: image files in, digit and probabilities out.

`serving_default(image_bytes: string [None])` takes the bytes of image files
(PNG, JPEG, BMP or GIF; grey or colour, any size) and gives, for each image:
- `class_id` (int64): the most probable digit, what `predict` prints first;
- `probabilities` (float32 [None, 10]): P(digit) for 0..9, as `predict`'s.

Inside the graph each image is turned into the MNIST convention exactly as
`data.to_model_input` does with Pillow: decoded, composited on white,
made grey (Pillow's "L"), inverted if the border is light, the paper's
median level subtracted and the strongest ink stretched to 255, the ink's
bounding box cut out, scaled with Pillow's Lanczos filter to fit a 20x20
box (the whole 8x8 frame for the 8x8 digits), and placed by its centre of
mass on a black square of the model's size. The Pillow steps are redone
with Pillow's own fixed-point arithmetic (`apps.common.graph_images`), the
NumPy steps in the same float32/float64 arithmetic, so the model sees the
same pixels.

`pixels(images: float32 [None, S, S])` takes images already in the MNIST
convention (white digit on black, 0-255, S the model's size: 28, or 8) and
gives the same outputs: the model itself, for clients that prepare images
their own way.
"""

from apps.common import serving

SIGNATURE = ("encoded image bytes (string [None]: PNG, JPEG, ...) -> class_id (int64), "
             "probabilities (float32 [None, 10]); a second signature `pixels` takes float32 "
             "[None, S, S] images already in the MNIST convention")
INK = 0.1 * 255.0  # data.to_model_input's ink threshold


def to_model_input(data, size):
    """One encoded image (scalar string) -> float32 [size, size], as `data.to_model_input` gives."""
    import tensorflow as tf

    from apps.common import graph_images
    from apps.mnist import data as data_module

    pixels = tf.cast(graph_images.decode_gray(data), tf.float32)
    border = tf.concat([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]], axis=0)
    # NumPy's float32 mean of integers: an exact sum (below 2**24 here), then one division.
    mean = tf.cast(tf.reduce_sum(tf.cast(border, tf.float64)), tf.float32) / tf.cast(
        tf.size(border), tf.float32)
    light = mean > 127.0
    pixels = tf.where(light, 255.0 - pixels, pixels)
    border = tf.where(light, 255.0 - border, border)
    ordered = tf.sort(border)
    count = tf.size(ordered)
    median = (ordered[(count - 1) // 2] + ordered[count // 2]) / 2.0  # np.median
    pixels = tf.maximum(pixels - median, 0.0)
    top_value = tf.reduce_max(pixels)
    pixels = tf.cond(top_value > 0, lambda: pixels * (255.0 / top_value), lambda: pixels)
    ink = pixels > INK

    def digit_on_canvas():
        rows = tf.cast(tf.where(tf.reduce_any(ink, axis=1))[:, 0], tf.int32)
        columns = tf.cast(tf.where(tf.reduce_any(ink, axis=0))[:, 0], tf.int32)
        top, bottom = rows[0], rows[-1] + 1
        left, right = columns[0], columns[-1] + 1
        crop = tf.cast(pixels[top:bottom, left:right], tf.uint8)  # astype(uint8): truncation
        crop_h, crop_w = bottom - top, right - left
        box = data_module.DIGIT_BOX.get(size, size)
        scale = box / tf.cast(tf.maximum(crop_h, crop_w), tf.float64)
        width = tf.maximum(1, tf.cast(tf.round(tf.cast(crop_w, tf.float64) * scale), tf.int32))
        height = tf.maximum(1, tf.cast(tf.round(tf.cast(crop_h, tf.float64) * scale), tf.int32))
        digit = graph_images.resize(crop[..., None], height, width, "lanczos")[..., 0]
        digit = tf.cast(digit, tf.float64)
        total = tf.reduce_sum(digit)
        row_index = tf.cast(tf.range(height), tf.float64)[:, None]
        column_index = tf.cast(tf.range(width), tf.float64)[None, :]
        centre_row = tf.where(total > 0, tf.reduce_sum(row_index * digit) / total,
                              tf.cast(height, tf.float64) / 2.0)
        centre_col = tf.where(total > 0, tf.reduce_sum(column_index * digit) / total,
                              tf.cast(width, tf.float64) / 2.0)
        place_top = tf.clip_by_value(tf.cast(tf.round(size / 2 - centre_row), tf.int32), 0,
                                     size - height)
        place_left = tf.clip_by_value(tf.cast(tf.round(size / 2 - centre_col), tf.int32), 0,
                                      size - width)
        canvas = tf.pad(digit, [[place_top, size - height - place_top],
                                [place_left, size - width - place_left]])
        return tf.cast(canvas, tf.float32)

    image = tf.cond(tf.reduce_any(ink), digit_on_canvas, lambda: tf.zeros([size, size]))
    return tf.ensure_shape(image, [size, size])


def endpoints(model, model_path):
    """The export's signatures (see the module docstring)."""
    import tensorflow as tf

    size = int(model.input_shape[1])

    def classify(images):
        probabilities = tf.cast(model(images, training=False), tf.float32)
        return {"class_id": tf.argmax(probabilities, axis=1), "probabilities": probabilities}

    def from_bytes(image_bytes):
        images = tf.map_fn(lambda data: to_model_input(data, size), image_bytes,
                           fn_output_signature=tf.TensorSpec([size, size], tf.float32))
        return classify(images)

    return [
        serving.Endpoint("serving_default", from_bytes,
                         [tf.TensorSpec([None], tf.string, name="image_bytes")]),
        serving.Endpoint("pixels", classify,
                         [tf.TensorSpec([None, size, size], tf.float32, name="images")]),
    ]
