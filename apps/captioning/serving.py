"""The SavedModel signature of a captioning run: encoded image files in, captions out.

`serving_default(image_bytes: string [None])` takes the bytes of image files
(JPEG, PNG, BMP or GIF, any mode and size) and gives, for each image:
- `caption` (string): what `predict` prints;
- `log_prob` (float32): the model's log-probability of the caption, the end
  token included;
- `finished` (bool): whether the end token came before the length limit.

Inside the graph each image goes through `images.decode_image`'s steps
redone as TensorFlow ops (`apps.common.graph_images`): a JPEG decoded at
1/2, 1/4 or 1/8 scale when that still covers the model's size (Pillow's
`draft`), transparency composited on white, grey made RGB, then squashed to
the run's `--image-size` with Pillow's bicubic filter and reducing gap, with
Pillow's fixed-point arithmetic, so the pixels are Pillow's. Then the encoder
(its preprocessing inside) and the search with the run's `--beam-size`,
`--length-alpha` and `--max-output-length` (greedy search for a beam of 1).
Unlike `predict`, the EXIF orientation tag is not applied: send upright images.
"""

from apps.common import serving

SIGNATURE = ("encoded image bytes (string [None]: JPEG, PNG, ...) -> caption (string), "
             "log_prob (float32), finished (bool); beam search inside")


def pixels(image_bytes, size):
    """Encoded images [B] -> uint8 RGB [B, size, size, 3], as `images.decode_image` makes them."""
    import tensorflow as tf

    from apps.common import graph_images
    from apps.captioning import images

    def one(data):
        rgb = graph_images.decode_rgb(data, draft_size=size)
        squashed = graph_images.resize(rgb, size, size, "bicubic",
                                       reducing_gap=images._REDUCING_GAP)
        return tf.ensure_shape(squashed, [size, size, 3])

    return tf.map_fn(one, image_bytes, fn_output_signature=tf.TensorSpec([size, size, 3],
                                                                         tf.uint8))


def endpoints(model, model_path, image_size, beam_size, max_output_length, length_alpha):
    """The export's signatures (see the module docstring)."""
    import tensorflow as tf

    from apps.captioning import model as model_module

    captioner = model_module.Captioner(model)
    vocabulary = tf.constant([str(word) for word in captioner.vocabulary])
    beam = None if beam_size == 1 else int(beam_size)
    search = captioner.compiled(beam, length_alpha)

    def caption(image_bytes):
        features = captioner.parts.encoder(tf.cast(pixels(image_bytes, image_size), tf.float32),
                                           training=False)
        found = search(features, tf.constant(int(max_output_length)))
        pick = (lambda v: v) if beam is None else (lambda v: v[:, 0])  # noqa: E731
        return {
            "caption": serving.words_before_end(pick(found["tokens"]), vocabulary),
            "log_prob": pick(found["log_prob"]),
            "finished": pick(found["finished"]),
        }

    return [serving.Endpoint("serving_default", caption,
                             [tf.TensorSpec([None], tf.string, name="image_bytes")])]
