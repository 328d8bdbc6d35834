"""The settings of `rnn-suite captioning train`."""

import typing

from apps.common.config import CommonConfig, app_config, setting

DATASETS = ("auto", "flickr8k", "csv", "karpathy", "coco", "shapes")
ENCODERS = ("cnn", "efficientnet_lite0", "efficientnet_b0", "mobilenet_v3_small", "inception_v3")


@app_config(epochs=20, learning_rate=2e-3)
class CaptioningConfig(CommonConfig):
    """Common settings (with captioning's defaults) plus data, encoder, decoder and decoding."""

    cell: str = setting("lstm", "recurrent cell of the decoder: lstm (as Show, Attend and "
                        "Tell) or gru", choices=("gru", "lstm"))
    units: int = setting(256, "units of the decoder cell", minimum=1)
    layers: int = setting(1, "decoder layers (one: the attentive cell)", minimum=1, flag=False)
    bidirectional: bool = setting(False, "not used: the decoder runs forwards", flag=False)
    dropout: float = setting(0.3, "dropout on the word embeddings and before the output layer",
                             minimum=0.0, below=1.0)
    batch_size: int = setting(64, "captions per training step", minimum=1)
    early_stopping: int = setting(
        4, "stop after this many epochs without a better validation loss (0: never)", minimum=0)
    embedding_dim: int = setting(128, "size of the word embeddings (and of the deep output "
                                 "layer)", minimum=1)
    attention_units: int = setting(0, "hidden size of the attention score (0: --units)",
                                   minimum=0)
    attention_penalty: float = setting(
        1.0, "lambda of the doubly stochastic attention penalty lambda * (1 - sum_t "
        "alpha_ti)^2, averaged over the image's places i (0: off)", minimum=0.0)
    context_gate: bool = setting(True, "scale the attention context by beta = sigmoid(w h + b) "
                                 "at every step (the paper's gating scalar)")
    encoder: str = setting(
        "auto", "image encoder: cnn (small, trained with the decoder), efficientnet_lite0 "
        "(ImageNet weights shipped in a package: works offline), efficientnet_b0, "
        "mobilenet_v3_small, inception_v3 (keras.applications: ImageNet weights downloaded "
        "once, or --encoder-weights FILE); auto: cnn for shapes, efficientnet_lite0 otherwise",
        choices=("auto",) + ENCODERS)
    encoder_weights: typing.Optional[str] = setting(
        None, "a local ImageNet weights file for a keras.applications encoder (the .h5 Keras "
        "downloads), for machines without network")
    image_size: int = setting(0, "images are resized to this many pixels square (0: the "
                              "encoder's own: 64 for cnn on shapes, 224 for the ImageNet "
                              "encoders, 299 for inception_v3, 128 for cnn otherwise)", minimum=0)
    fine_tune_encoder: bool = setting(
        False, "train a pretrained encoder with the decoder (slow; no feature cache); the cnn "
        "encoder is always trained")
    cache_dir: typing.Optional[str] = setting(
        None, "folder for cached image features and converted weights (default: "
        "$RNN_SUITE_CACHE, then ~/.cache/rnn-suite)")
    dataset: str = setting(
        "auto", "flickr8k (Flickr8k layout under --data-dir/$RNN_SUITE_DATA: images folder or "
        ".tar, Flickr8k.token.txt, Flickr_8k.*Images.txt), csv (--csv and --images), karpathy "
        "(--karpathy-json and --images), coco (tfds coco_captions, only if already prepared), "
        "shapes (generated coloured shapes), auto (csv/karpathy if given, else flickr8k if a "
        "data folder holds it, else shapes)", choices=DATASETS)
    csv: typing.Optional[str] = setting(
        None, "a CSV of your own captions (header row; several rows per image allowed)")
    karpathy_json: typing.Optional[str] = setting(
        None, "a Karpathy-split JSON (dataset_flickr8k.json, dataset_coco.json), with --images")
    images: typing.Optional[str] = setting(
        None, "the folder (or .tar) holding the images named by --csv or --karpathy-json")
    image_col: str = setting("image", "the CSV column holding the image file name")
    caption_col: str = setting("caption", "the CSV column holding the caption")
    skip_bad_lines: bool = setting(
        False, "skip malformed caption lines (with a count) instead of stopping at the first")
    shapes_images: int = setting(3000, "images generated for --dataset shapes (split "
                                 "80/10/10)", minimum=10)
    shapes_max: int = setting(3, "at most this many shapes in a generated image (1 to 3)",
                              minimum=1, below=4)
    min_count: int = setting(3, "caption words seen fewer times in training become [UNK]",
                             minimum=1)
    max_caption_length: int = setting(
        30, "training captions with more words are cut to this many", minimum=1)
    beam_size: int = setting(3, "beam width of beam search (evaluation and predict)", minimum=1)
    max_output_length: int = setting(30, "at most this many words in a generated caption",
                                     minimum=1)
    length_alpha: float = setting(0.0, "beam search ranks by log-probability / length**alpha",
                                  minimum=0.0)
    meteor: str = setting(
        "auto", "also score METEOR (pycocoevalcap's, which runs Java: about 10 s per score): "
        "auto (when java is on the PATH) or off", choices=("auto", "off"))
    eval_limit: int = setting(0, "caption at most this many test images after training "
                              "(0: all)", minimum=0)
