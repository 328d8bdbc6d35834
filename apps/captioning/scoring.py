"""The standard captioning metrics, computed by pycocoevalcap's own scorers.

`caption_scores` gives BLEU-1..4, ROUGE-L, CIDEr-D and (when Java is there)
METEOR, scaled x100 as papers report them (BLEU-4 19.5, CIDEr-D 50.3). Every
candidate is scored against all the references of its image.

What differs from coco-caption's `COCOEvalCap` is only the tokenisation:
coco-caption runs Stanford CoreNLP's PTBTokenizer (3.4.1, `-preserveLines
-lowerCase`) in Java and then drops the punctuation tokens listed in
`pycocoevalcap.tokenizer.ptbtokenizer.PUNCTUATIONS`. `tokenize` reproduces that
in Python for ordinary captions (checked line by line against the jar on
thousands of generated captions: it differs only where the jar looks into the
next line), so scoring needs no Java and no CoreNLP; METEOR alone still runs
Java, as it does in coco-caption.
"""

import re
import shutil
import threading

from pycocoevalcap.bleu.bleu import Bleu
from pycocoevalcap.cider.cider import Cider
from pycocoevalcap.meteor.meteor import Meteor
from pycocoevalcap.rouge.rouge import Rouge
from pycocoevalcap.tokenizer.ptbtokenizer import PUNCTUATIONS

from apps.common.errors import UsageError

SCORE_KEYS = ("BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4", "ROUGE-L", "CIDEr-D", "METEOR")

#: Seconds METEOR may take (Java start, paraphrase table, scoring) before it is stopped.
METEOR_TIMEOUT_S = 300.0

# ---------------------------------------------------------------------------
# Tokenisation: what coco-caption's PTBTokenizer step produces.
# ---------------------------------------------------------------------------

_DROPPED = frozenset(PUNCTUATIONS)

# Abbreviations whose final period the PTB lexer keeps, whatever their case
# (read off the CoreNLP 3.4.1 jar: "x mr. y" -> "x mr. y", "x no. y" -> "x no . y").
_ABBREVIATIONS = frozenset("""
    mr mrs ms dr drs prof profs sen sens rep reps atty attys lt col gen messrs gov govs adm rev maj
    sgt cpl pvt mt capt st ste ave pres lieut hon brig cmdr comdr pfc spc supt supts det m mme mmes
    mlle mlles jr sr bros blvd rd esq inc cie co corp ltd dept univ intl etc al seq jan feb mar apr
    jun jul aug sep sept oct nov dec mon tue tues wed thu thurs fri ala ariz calif colo conn ct dak
    fla ga ind kan kans ky md mich minn mo mont neb nev okla penn tenn va vt wis wisc wyo vs alex wm
    jos cf treas tel est ext sq ft ph.d ed.d a.k.a
""".split())
# ... and those it keeps only when capitalised ("Wash." is Washington, "wash." a word).
_CAPITALISED_ABBREVIATIONS = frozenset("miss az ark del ill la mass ore pa tex wash".split())
# A single letter and a period ("x.") lose the period before these capitalised words (case as written).
_SENTENCE_STARTS = frozenset("""
    A An As At But He Her If In It Our She So That The Their There These They This We What When
    While You One Then Now Here Some Many After Since However Yet Mr. Ms.
""".split())
_ACRONYM = re.compile(r"^[a-z](\.[a-z])*$", re.IGNORECASE)  # "u.s" of "U.S.", "a" of "a."

_UNICODE = str.maketrans({
    "\u201c": '"', "\u201d": '"', "\u2018": "'", "\u2019": "'", "\u00a0": " ",
    "\u2014": " -- ", "\u2013": " -- ", "\u2026": " ... ", "\u00a3": "#", "\u20ac": "$",
    "\u00a2": " cents",
})
_BRACKETS = {"(": "-lrb-", ")": "-rrb-", "[": "-lsb-", "]": "-rsb-", "{": "-lcb-", "}": "-rcb-"}
_CLITICS = ("n't", "'s", "'re", "'ve", "'ll", "'d", "'m")
_SPLIT_WORDS = {"cannot": ("can", "not"), "gonna": ("gon", "na"), "gotta": ("got", "ta"),
                "wanna": ("wan", "na"), "lemme": ("lem", "me"), "gimme": ("gim", "me"),
                "'tis": ("'t", "is"), "'twas": ("'t", "was"), "y'all": ("y'", "all")}
# Words that begin with an apostrophe and stay whole ("'s" alone, "'90s", "'cause").
_APOSTROPHE_WORD = re.compile(r"^'(s|re|ve|ll|d|m|t|em|cause|n|tis|twas|\d\ds?)$", re.IGNORECASE)
_INNER = re.compile(r"(\.\.\.+|--|'n'|\"|(?<=\D)[,;]|[,;](?=\D)|(?<=\D):(?!//)|:(?=[^\d/]))")
_DECIMAL_UNIT = re.compile(r"^(\d*(?:[.,]\d+)+)([a-z]+)$", re.IGNORECASE)
_TRAILING_RUN = re.compile(r"([!?]+|\.{3,}|%|[,;:])$")


def tokenize(caption):
    """One caption as coco-caption's PTB tokenisation step leaves it: lower-case
    tokens joined by single spaces, punctuation tokens removed.

    Reproduces Stanford PTBTokenizer 3.4.1 (`-preserveLines -lowerCase`, as
    `pycocoevalcap.tokenizer.ptbtokenizer` runs it) followed by the removal of
    that module's `PUNCTUATIONS`:
    "A dog's toy, (red)." -> "a dog 's toy -lrb- red -rrb-". As there,
    clitics are split the PTB way ("don't" -> "do n't", "cannot" -> "can not"),
    hyphenated words, decimals and "1,000" stay whole, brackets become
    "-lrb-"-style tokens that survive (the list names them upper-case, the
    tokenizer lower-cases them first), "?!" stays, abbreviations ("mr.",
    "u.s.", "etc.") keep their period. One caption is tokenised as if it were
    alone: the jar looks one line ahead, so there a caption ending in a single
    letter and a period ("... the letter a.") loses that period when the next
    caption starts with "A", "The", "He"..., and one ending in "no." keeps it
    before a caption starting with a digit.
    """
    text = str(caption).translate(_UNICODE)
    text = text.replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
    tokens = []
    chunks = text.split()
    for chunk, following in zip(chunks, chunks[1:] + [""]):
        tokens.extend(_chunk_tokens(chunk, following))
    return " ".join(t for t in (t.lower() for t in tokens) if t and t not in _DROPPED)


def _chunk_tokens(chunk, following=""):
    """The PTB tokens of one whitespace-free piece of text, in original case
    (`following`: the next piece, which decides some periods)."""
    front, back = [], []
    while chunk:  # leading punctuation
        if chunk.startswith("``") or chunk.startswith("--") or chunk.startswith("..."):
            head = "..." if chunk.startswith("...") else chunk[:2]
            front.append(head)
            chunk = chunk[len(head):].lstrip(".") if head == "..." else chunk[2:]
        elif chunk[0] == '"':
            front.append("``" if len(chunk) > 1 else "''")
            chunk = chunk[1:]
        elif chunk[0] == "'" and not _APOSTROPHE_WORD.match(_strip_trailing(chunk)) \
                and not _clitic_only(chunk):
            front.append("`" if len(chunk) > 1 else "'")
            chunk = chunk[1:]
        elif chunk[0] in _BRACKETS:
            front.append(_BRACKETS[chunk[0]])
            chunk = chunk[1:]
        elif chunk[0] in "`,;:" or (chunk[0] in "!?" and len(chunk) > 1 and chunk[1].isalnum()) \
                or (chunk[0] in "$#\u00a5" and len(chunk) > 1 and chunk[1].isdigit()):
            front.append(chunk[0])
            chunk = chunk[1:]
        elif chunk[0] in "./" and len(chunk) > 1 and not chunk[1].isdigit():  # "..dog", "/dog"
            front.append(chunk[0])
            chunk = chunk[1:]
        elif chunk[0] == "-" and len(chunk) > 1 and not (chunk[1].isdigit() or chunk[1] == "."):
            front.append("-")
            chunk = chunk[1:]
        else:
            break
    while chunk:  # trailing punctuation, peeled from the end
        if chunk.endswith("''") and len(chunk) > 2:
            back.append("''")
            chunk = chunk[:-2]
        elif chunk[-1] == '"' and len(chunk) > 1:
            back.append("''")
            chunk = chunk[:-1]
        elif chunk[-1] == "'" and len(chunk) > 1 and not _APOSTROPHE_WORD.match(chunk) \
                and not chunk.endswith("'n'") and chunk.lower() != "y'":
            back.append("'")
            chunk = chunk[:-1]
        elif chunk[-1] == "`" and len(chunk) > 1:
            back.append("`")
            chunk = chunk[:-1]
        elif chunk[-1] in _BRACKETS and len(chunk) > 1:
            back.append(_BRACKETS[chunk[-1]])
            chunk = chunk[:-1]
        elif chunk.endswith("--") and len(chunk) > 2:
            back.append("--")
            chunk = chunk[:-2]
        elif chunk[-1] in "-/" and len(chunk) > 1:  # "dog-", "w/"
            back.append(chunk[-1])
            chunk = chunk[:-1]
        elif chunk.endswith("..") and not chunk.endswith("...") and len(chunk) > 2:
            back.extend([".", "."])
            chunk = chunk[:-2]
        elif chunk[-1] == "." and len(chunk) > 1 and not chunk.endswith("...") \
                and not _keeps_period(chunk[:-1], following):
            back.append(".")
            chunk = chunk[:-1]
        elif len(chunk) > 1 and _TRAILING_RUN.search(chunk) and not _TRAILING_RUN.fullmatch(chunk):
            run = _TRAILING_RUN.search(chunk).group(1)
            back.append("..." if run.startswith("...") else run)
            chunk = chunk[:-len(run)]
        else:
            break
    middle = []
    if chunk.startswith("..."):
        middle.append("...")
    elif chunk:
        for piece in _INNER.split(chunk):
            if piece.startswith("..."):
                middle.append("...")
            elif piece == '"':
                middle.append("''")
            elif piece:
                middle.extend(_word_tokens(piece))
    return front + middle + back[::-1]


def _strip_trailing(chunk):
    return chunk.rstrip(".,;:!?\"')]}")


def _clitic_only(chunk):
    return _strip_trailing(chunk).lower() in _CLITICS


def _keeps_period(word, following):
    """Whether the PTB lexer keeps the period after `word` (an abbreviation)."""
    lower = word.lower()
    if len(word) == 1 and word.isalpha():  # "a." stays, unless a sentence seems to start next
        return following not in _SENTENCE_STARTS and following.rstrip(",;:!?") not in _SENTENCE_STARTS
    if lower in _ABBREVIATIONS or _ACRONYM.match(word):
        return True
    if lower == "no":  # "no. 5" but "there is no."
        return following[:1].isdigit()
    return lower in _CAPITALISED_ABBREVIATIONS and word[0].isupper()


def _word_tokens(word):
    """Split clitics off one word: "dog's" -> dog 's, "I'd've" -> i 'd 've."""
    lower = word.lower()
    if lower in _SPLIT_WORDS:
        first, second = _SPLIT_WORDS[lower]
        return [word[:len(first)], word[len(first):]]
    if _APOSTROPHE_WORD.match(word) or lower in _CLITICS:
        return [word]
    measure = _DECIMAL_UNIT.match(word)  # "1.5m" -> 1.5 m (but "100km", "4x4" stay)
    if measure:
        return list(measure.groups())
    tail = []
    while True:
        lower = word.lower()
        for clitic in _CLITICS:
            if lower.endswith(clitic) and len(word) > len(clitic) and word[-len(clitic) - 1].isalnum():
                tail.append(word[-len(clitic):])
                word = word[:-len(clitic)]
                break
        else:
            break
    return [word] + tail[::-1]


# ---------------------------------------------------------------------------
# Scoring
# ---------------------------------------------------------------------------


def caption_scores(candidates, references, meteor="auto"):
    """Corpus scores of generated captions against their references, x100.

    Args:
        candidates: N generated captions (str), one per image.
        references: N lists of reference captions (str), any number per image
            (at least one); each candidate is scored against all of its own.
        meteor: True to compute METEOR, False not to, "auto" to compute it when
            `java` is on the PATH.

    Returns:
        A dict of floats: "BLEU-1".."BLEU-4", "ROUGE-L", "CIDEr-D", and
        "METEOR" when computed; otherwise "METEOR_skipped" says why (a str).

    Both sides go through `tokenize` first, as coco-caption tokenises both.
    The scorers are pycocoevalcap's own:

    - BLEU: `Bleu(4)`, corpus-level (clipped n-gram counts summed over all
      images), brevity penalty from the summed 'closest' reference lengths.
    - ROUGE-L: `Rouge()`, per image the LCS F-measure with beta 1.2 (precision
      and recall each the best over the references), averaged over images.
    - CIDEr-D: `Cider()`. Despite its name that class computes CIDEr-D (see
      `pycocoevalcap/cider/cider_scorer.py`): tf-idf n-gram vectors (n=1..4)
      with document frequencies from this corpus's references, candidate
      counts clipped at the reference's (`min(vec_hyp, vec_ref)`), a Gaussian
      length penalty with sigma 6, averaged over n and over references and
      multiplied by 10. A candidate equal to its only reference in a corpus
      where no n-gram occurs in every image's references therefore scores 10
      raw, 1000 here; a one-image corpus scores 0 (every idf is log(1/1) = 0).
    - METEOR: `Meteor()` (meteor-1.5.jar through `java`), closed after use;
      if Java fails or exceeds `METEOR_TIMEOUT_S` the reason is reported
      under "METEOR_skipped" instead of raising.
    """
    candidates, references = _checked(candidates, references)
    res = {i: [tokenize(c)] for i, c in enumerate(candidates)}
    gts = {i: [tokenize(r) for r in refs] for i, refs in enumerate(references)}
    if not any(ref for refs in gts.values() for ref in refs):
        raise UsageError("every reference caption is empty after tokenisation: give reference "
                         "captions with words in them")
    bleu, _ = Bleu(4).compute_score(gts, res, verbose=0)
    scores = {f"BLEU-{n}": 100.0 * float(bleu[n - 1]) for n in range(1, 5)}
    scores["ROUGE-L"] = 100.0 * float(Rouge().compute_score(gts, res)[0])
    scores["CIDEr-D"] = 100.0 * float(Cider().compute_score(gts, res)[0])
    if meteor not in (True, False, "auto"):
        raise ValueError(f"meteor must be True, False or 'auto', not {meteor!r}")
    if meteor is False:
        scores["METEOR_skipped"] = "not asked for (meteor=False)"
    elif shutil.which("java") is None:
        scores["METEOR_skipped"] = "java not found on the PATH (METEOR runs meteor-1.5.jar)"
    else:
        value, reason = _meteor(gts, res, METEOR_TIMEOUT_S)
        if reason is None:
            scores["METEOR"] = 100.0 * value
        else:
            scores["METEOR_skipped"] = reason
    return scores


def format_scores(scores):
    """One line: "BLEU-1 71.2  BLEU-2 50.3  ...  CIDEr-D 80.1  METEOR 22.0"."""
    parts = [f"{key} {scores[key]:.1f}" for key in SCORE_KEYS if key in scores]
    if "METEOR_skipped" in scores:
        parts.append(f"(METEOR skipped: {scores['METEOR_skipped']})")
    return "  ".join(parts)


def _checked(candidates, references):
    if isinstance(candidates, str) or isinstance(references, str):
        raise ValueError("candidates and references must be lists (one entry per image), not a str")
    candidates, references = list(candidates), list(references)
    if not candidates:
        raise UsageError("no candidate captions to score: pass one generated caption per image "
                         "(and its reference captions)")
    if len(candidates) != len(references):
        raise ValueError(f"{len(candidates)} candidate captions but {len(references)} reference "
                         "lists: give one list of references per candidate")
    checked = []
    for i, (candidate, refs) in enumerate(zip(candidates, references)):
        if not isinstance(candidate, str):
            raise ValueError(f"candidates[{i}] is a {type(candidate).__name__}, not a str")
        if isinstance(refs, str):
            raise ValueError(f"references[{i}] is a str: give a list of reference captions per image")
        refs = list(refs)
        if not refs:
            raise ValueError(f"references[{i}] is empty: every image needs at least one reference")
        if not all(isinstance(r, str) for r in refs):
            raise ValueError(f"references[{i}] holds something other than str captions")
        checked.append(refs)
    return candidates, checked


class _ClosingMeteor(Meteor):
    """pycocoevalcap's Meteor, made safe to stop.

    The original holds its lock across `compute_score` and never releases it
    when Java dies, so its `__del__` (which takes the lock) would hang; it also
    leaves Java's stderr pipe unread. Here `close` needs no lock and stderr is
    drained into `stderr_tail` for the error message.
    """

    def __init__(self):
        self.meteor_p = None  # so close() works even when Popen fails
        self.lock = threading.Lock()
        self.stderr_tail = []
        self._stderr_reader = None
        super().__init__()
        self._stderr_reader = threading.Thread(target=self._drain_stderr, args=(self.meteor_p.stderr,),
                                               daemon=True)
        self._stderr_reader.start()

    def _drain_stderr(self, stream):
        for line in iter(stream.readline, b""):
            self.stderr_tail = (self.stderr_tail + [line.decode(errors="replace").strip()])[-5:]

    def close(self):
        process, self.meteor_p = self.meteor_p, None
        if process is None:
            return
        for stream in (process.stdin, process.stdout):
            try:
                stream.close()
            except OSError:
                pass
        if process.poll() is None:
            process.kill()
        process.wait()
        if self._stderr_reader is not None:
            self._stderr_reader.join(timeout=2.0)  # Java has exited: its stderr ends now
        try:
            process.stderr.close()
        except OSError:
            pass

    def kill(self):
        process = self.meteor_p
        if process is not None and process.poll() is None:
            process.kill()

    def __del__(self):
        self.close()


def _meteor(gts, res, timeout):
    """(METEOR in 0-1, None), or (None, why it could not be computed)."""
    # METEOR's protocol separates fields with "|||"; pycocoevalcap cleans only the candidate.
    gts = {i: [r.replace("|||", "") for r in refs] for i, refs in gts.items()}
    try:
        scorer = _ClosingMeteor()
    except OSError as error:
        return None, f"java could not start METEOR ({error})"
    timed_out = threading.Event()

    def stop():
        timed_out.set()
        scorer.kill()

    watchdog = threading.Timer(timeout, stop)
    watchdog.daemon = True
    watchdog.start()
    try:
        value, _ = scorer.compute_score(gts, res)
        return float(value), None
    except Exception as error:  # Java died, ran out of memory, or printed something unexpected
        scorer.close()
        if timed_out.is_set():
            return None, f"METEOR (java) took longer than {timeout:.0f} s and was stopped"
        detail = " | ".join(line for line in scorer.stderr_tail if line) or f"{type(error).__name__}: {error}"
        return None, f"METEOR (java -jar meteor-1.5.jar) failed: {detail}"[:500]
    finally:
        watchdog.cancel()
        scorer.close()
