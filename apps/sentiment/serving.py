"""The SavedModel signature of a sentiment run: raw review text in, label and P(positive) out.

`serving_default(review: string [None])` gives, for each review:
- `label` (string): the class name `predict` prints (P >= 0.5: the second
  class, else the first); "" for a review with no words;
- `probability` (float32): P(second class, "positive"), calibrated by the
  run's temperature, equal to `predict`'s; NaN for a review with no words;
- `words` (int32): how many words the model's vectoriser found (0: the
  review had none, only spaces or punctuation; `predict` prints a
  placeholder for such a line).

The model already holds its text preprocessing and temperature, so the
signature is the model itself plus the label and the word count.
"""

from apps.common import serving

SIGNATURE = ("raw review text (string [None]) -> label (string), probability (float32, "
             "P(positive)), words (int32)")


def endpoints(model, model_path):
    """The export's signatures (see the module docstring)."""
    import tensorflow as tf

    from apps.sentiment import model as model_module

    names = tf.constant(list(model_module.class_names(model)))
    vectorizer = model_module.vectorizer_layer(model)

    def classify(review):
        probability = tf.reshape(tf.cast(model(review, training=False), tf.float32), [-1])
        words = tf.reduce_sum(tf.cast(tf.not_equal(vectorizer(review), 0), tf.int32), axis=1)
        has_words = words > 0
        label = tf.gather(names, tf.cast(probability >= 0.5, tf.int32))
        return {
            "label": tf.where(has_words, label, ""),
            "probability": tf.where(has_words, probability, float("nan")),
            "words": words,
        }

    return [serving.Endpoint("serving_default", classify,
                             [tf.TensorSpec([None], tf.string, name="review")])]
