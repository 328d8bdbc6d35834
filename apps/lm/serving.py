"""The SavedModel signature of a language-model run: a raw prompt in, its continuation out.

`serving_default(prompt: string [None], max_tokens: int32 [], temperature:
float32 [], top_k: int32 [], seed: int32 [])` gives, for each prompt:
- `text` (string): the continuation alone (words joined by spaces, or
  characters), without the prompt; it stops before the end-of-document token (a
  backward language model's is the text before the prompt, in reading order);
- `tokens` (int32): how many tokens it has.

The graph reads text as `generate` does (the word model's standardisation,
characters with IMDB's <br /> as line ends, or SentencePiece's own op), puts the end-of-document token
first, and runs the whole sequence through the model at every step, as
`sampling.generate` does, so at temperature 0 (greedy) the two agree token for
token. top_k 0 means no limit; nucleus (top-p) sampling is `generate`'s only.
Sampling uses TensorFlow's stateless random numbers: a seed gives the same
text on every call, but not the same text as `generate --seed` (NumPy's).
"""

from apps.common import serving

SIGNATURE = ("prompt (string [None]), max_tokens (int32 []), temperature (float32 [], 0: "
             "greedy), top_k (int32 [], 0: all), seed (int32 []) -> text (string), tokens "
             "(int32)")


def endpoints(model, model_path):
    """The export's signature (see the module docstring)."""
    import tensorflow as tf

    from apps.common import text as text_module
    from apps.common import tokens as tokens_module
    from apps.lm import model as model_module

    vocabulary = model_module.vocabulary_of(model)
    words = tf.constant(vocabulary.vocabulary)
    separator = "" if vocabulary.kind == "char" else " "

    def breaks_as_line_ends(prompt):  # `tokens._char_text`, in the graph
        for tag in tokens_module.HTML_BREAKS:
            prompt = tf.strings.regex_replace(prompt, tag, "\n", replace_global=True)
        return prompt

    def in_reading_order(ids):  # a backward model reads and writes from the end
        return tf.reverse(ids, [0]) if vocabulary.backwards else ids

    def prompt_ids(prompt):
        if vocabulary.kind == "subword":  # SentencePiece's op (the model tracks its resource)
            ids = tf.cast(vocabulary.subwords(breaks_as_line_ends(prompt[None]))[0], tf.int32)
        elif vocabulary.kind == "char":
            ids = lookup(tf.strings.unicode_split(breaks_as_line_ends(prompt), "UTF-8"))
        else:
            words_of = text_module.lower_strip_html_punctuation(prompt[None])
            ids = lookup(tf.strings.split(words_of)[0])
        return in_reading_order(ids)

    def spell(new):
        new = in_reading_order(new)
        if vocabulary.kind == "subword":
            return vocabulary.subwords.detokenize_graph(new)
        return tf.strings.reduce_join(tf.gather(words, new), separator=separator)

    def lookup(tokens):
        # A comparison with every word, not a hash table: a prompt is short, and the
        # signature then holds no resource besides the model's weights.
        same = tf.equal(tokens[:, None], words[None, :])
        return tf.where(tf.reduce_any(same, axis=1),
                        tf.argmax(tf.cast(same, tf.int32), axis=1, output_type=tf.int32),
                        tokens_module.UNK_ID)

    def choose(logits, temperature, top_k, seed, step):
        def sample():
            scores = logits / temperature
            kth = tf.math.top_k(scores, k=tf.clip_by_value(top_k, 1, tf.size(scores)))[0][-1]
            kept = tf.where(tf.logical_and(top_k > 0, scores < kth), -float("inf"), scores)
            return tf.cast(tf.random.stateless_categorical(
                kept[None], 1, seed=tf.stack([seed, step]))[0, 0], tf.int32)

        return tf.cond(temperature > 0, sample,
                       lambda: tf.argmax(logits, output_type=tf.int32))

    def continue_one(prompt, max_tokens, temperature, top_k, seed):
        ids = tf.concat([[tokens_module.EOD_ID], prompt_ids(prompt)], 0)
        start = tf.size(ids)

        def going(step, ids, done):
            return tf.logical_and(step < max_tokens, tf.logical_not(done))

        def one_more(step, ids, done):
            logits = tf.cast(model(ids[None], training=False)[0, -1], tf.float32)
            token = choose(logits, temperature, top_k, seed, step)
            return step + 1, tf.concat([ids, [token]], 0), tf.equal(token,
                                                                    tokens_module.EOD_ID)

        _, ids, done = tf.while_loop(
            going, one_more, [tf.constant(0), ids, tf.constant(False)],
            shape_invariants=[tf.TensorShape([]), tf.TensorShape([None]), tf.TensorShape([])])
        new = ids[start:]
        new = new[:tf.size(new) - tf.cast(done, tf.int32)]  # the end token is not text
        return spell(new), tf.size(new)

    def generate(prompt, max_tokens, temperature, top_k, seed):
        text, count = tf.map_fn(
            lambda p: continue_one(p, max_tokens, temperature, top_k, seed), prompt,
            fn_output_signature=(tf.TensorSpec([], tf.string), tf.TensorSpec([], tf.int32)))
        return {"text": text, "tokens": count}

    return [serving.Endpoint("serving_default", generate, [
        tf.TensorSpec([None], tf.string, name="prompt"),
        tf.TensorSpec([], tf.int32, name="max_tokens"),
        tf.TensorSpec([], tf.float32, name="temperature"),
        tf.TensorSpec([], tf.int32, name="top_k"),
        tf.TensorSpec([], tf.int32, name="seed")])]
