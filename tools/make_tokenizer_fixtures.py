#!/usr/bin/env python3
"""make_tokenizer_fixtures.py — writes tests/data/tokenizer_fixtures.tsv: captions and the ids that
open_clip's own tokenizer gives them, for the C++ parity test (tests/unit/text/test_tokenizer_parity.cpp).

It downloads the open_clip_torch 2.32.0 wheel (pip download --no-deps), imports its
open_clip/tokenizer.py file directly, and runs it on a deterministic corpus of a few thousand strings:
plain captions, punctuation, digits, emoji, CJK, accents (composed and decomposed), curly quotes, HTML
entities, long captions that truncate, empty and whitespace-only strings, ligatures, full-width text,
mojibake that ftfy repairs, control characters and terminal escapes, and invalid UTF-8.

Needs the reference's dependencies for the interpreter that runs it (Debian: python3-torch, then
`/usr/bin/python3 -m pip install --break-system-packages ftfy regex`):

    /usr/bin/python3 tools/make_tokenizer_fixtures.py

File format: '#' lines are comments (versions, command). Then one line per string: the input bytes,
escaped (\\\\ \\t \\n \\r and \\xHH for a raw byte; a leading '#' is written \\x23), a TAB, then the
ids of open_clip.tokenize(text) with context length 77, from 49406 up to and including 49407 (the zero
padding is left out). Inputs that are not valid UTF-8 are given to the reference decoded as Python's
bytes.decode('utf-8', errors='replace') does.
"""
import importlib.util
import random
import subprocess
import sys
import tempfile
import unicodedata
import zipfile
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "tokenizer_fixtures.tsv"
PACKAGE, VERSION = "open_clip_torch", "2.32.0"


def load_reference(tmp: Path):
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--quiet",
                    "-d", str(tmp), f"{PACKAGE}=={VERSION}"], check=True)
    wheel = next(tmp.glob("*.whl"))
    with zipfile.ZipFile(wheel) as z:
        z.extract("open_clip/tokenizer.py", tmp)
        z.extract("open_clip/bpe_simple_vocab_16e6.txt.gz", tmp)
    spec = importlib.util.spec_from_file_location("oc_tokenizer", tmp / "open_clip" / "tokenizer.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


WORDS = ("a an the photo picture image of cat dog man woman child children car bus street tree house red blue "
         "green small large old young sitting standing running on in at with near beside under over next to "
         "table bench beach mountain river city night day sunny snowy plate pizza slice cake bowl fruit banana "
         "apple orange two three several people group playing frisbee tennis skateboard surfing wave ocean "
         "kitchen bathroom bedroom window door sign stop traffic light train station airplane sky clouds field "
         "grass horse cow sheep giraffe elephant zebra bear bird flying umbrella rain phone laptop computer "
         "book shelf clock tower bridge boat water reading eating drinking coffee cup wine glass").split()
PUNCT = list("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~") + ["...", "--", "?!", "''", "``", "¡", "¿", "«", "»", "…",
                                                     "—", "–", "·", "•", "©", "®", "™", "°", "±", "§", "¶"]
EMOJI = ["😀", "😂", "🥲", "❤️", "👍", "👍🏽", "🎉", "🔥", "🐱", "🐶", "🍕", "🚗", "✈️", "🌍", "⭐", "☀️",
         "👨‍👩‍👧‍👦", "🏳️‍🌈", "🇺🇸", "🇯🇵", "🇫🇷", "1️⃣", "#️⃣", "🧑‍💻", "👩🏿‍🚀", "🤷‍♂️", "💯", "🙏", "😍", "🥳"]
CJK = ["一只猫坐在桌子上", "北京的天安门", "我爱你", "東京タワーの夜景", "ひらがなとカタカナ", "ｶﾀｶﾅ ﾊﾝｶｸ",
       "한국어 문장입니다", "서울의 밤", "日本語のテキスト、句読点。", "中文，标点符号！", "「引用」『二重』",
       "漢字かな交じり文", "ｱｲｳｴｵ", "ﾃﾞｼﾞﾀﾙ", "第1回 東京", "２０２４年", "三個蘋果", "山田太郎さん"]
ACCENTED = ["café", "naïve", "résumé", "über", "Straße", "GROSSE STRAẞE", "mañana", "São Paulo", "Ærøskøbing",
            "Łódź", "Dvořák", "Tiếng Việt có dấu", "Ελληνικά γράμματα", "ΣΟΦΟΣ σοφος", "Кириллица", "ПРИВЕТ мир",
            "İstanbul", "ıi İI", "Ångström", "crème brûlée", "façade", "jalapeño", "Zürich", "Ἀθῆναι",
            "ǅemal", "Ǆ", "ﬁancé", "Őrség", "Ĳsselmeer", "ʻokina", "עברית", "العربية", "हिन्दी", "ไทย", "ქართული"]
QUOTES = ["“quoted”", "‘single’", "don’t", "it’s", "we’re", "they’ve", "I’m", "you’ll", "he’d", "‛odd‟",
          "„German“", "«French»", "‚low‘", "ʼapostrophe", "″double prime″", "′prime′", "``tex''", "′s"]
ENTITIES = ["&amp;", "&lt;", "&gt;", "&quot;", "&#39;", "&#x27;", "&nbsp;", "&eacute;", "&EACUTE;", "&Eacute;",
            "&amp;amp;", "&amp;lt;b&amp;gt;", "&copy", "&copy;", "&notit;", "&notin;", "&hellip;", "&mdash;",
            "&#128;", "&#0;", "&#xD800;", "&#99999999;", "&#x1F600;", "&#65", "&#x41;", "&ldquo;hi&rdquo;",
            "&rsquo;", "&AMP;", "&LT;", "&frac12;", "&sup2;", "&#150;", "&#x80;", "&#13;", "&#1;", "&#xFFFE;",
            "&nonexistent;", "& amp;", "&#;", "&#x;", "&ampfoo", "&ltbar;", "&aacute", "&Aacute;&AACUTE;",
            "&zwnj;", "&NewLine;", "&Tab;", "&#12;", "&#x2028;", "&#xa0;"]
LIGATURES = ["ﬁ", "ﬂ", "ﬀ", "ﬃ", "ﬄ", "ﬅ", "ﬆ", "Ĳ", "ĳ", "ŉ", "Ǳ", "ǲ", "ǳ", "Ǆ", "ǅ", "ǆ", "Ǉ", "ǈ", "ǉ",
             "Ǌ", "ǋ", "ǌ", "œ", "Œ", "æ", "Æ", "ꜳ"]
FULLWIDTH = ["ＬＯＵＤ　ＮＯＩＳＥＳ", "ｆｕｌｌｗｉｄｔｈ", "１２３４５", "！？＃＄％", "（括弧）", "Ａ－Ｚ", "ｈｔｔｐ：／／ｅｘａｍｐｌｅ．ｃｏｍ",
             "￥１００", "￡５", "｢ｶｷﾞ｣", "ﾟ･✿ヾ╲(｡◕‿◕｡)╱✿･ﾟ", "＜ｔａｇ＞", "＂ｑｕｏｔｅ＂", "ｗｅ＇ｒｅ", "￫￩"]
SPACES = [" ", "  ", "\t", "\n", "\r\n", "\r", "\u00a0", "\u3000", "\u2028", "\u2029", "\u0085", "\x1c", "\x1f",
          "\u200b", "\u2009", "\u202f", "\u1680", "\x0b", "\x0c", "\ufeff", "\u180e", "\u2060"]
WEIRD = ["\x1b[31mred\x1b[0m", "\x1b[1;32mbold green\x1b[m", "\x00null\x00", "bell\x07", "del\x7f", "\u206aformat",
         "\ufff9anchor\ufffb", "\u200d", "a\u0345b", "\u0345", "!\u0345!", "<start_of_text>", "<end_of_text>",
         "<START_OF_TEXT> hi <End_Of_Text>", "<ſtart_of_text>", "<<start_of_text>>", "x<end_of_text>y",
         "'s 'S 'ſ 't 're 've 'm 'll 'd", "it's", "IT'S", "rock'n'roll", "'''", "K Kelvin", "ΌΣΟΣ", "ΣΑΣ.", "Σ",
         "ﬀ", "ſ", "ẞ", "ǰ", "Å", "Ω", "ⅷ Ⅻ", "①②③", "½ ¼ ¾", "²³", "٣٤٥", "१२३", "〇一二三", "ⓐⓑⓒ Ⓐ", "𝕳𝖊𝖑𝖑𝖔",
         "𝟏𝟐𝟑", "\U0001F600\U0001F600", "\ud7ff", "\ue000private", "\uffff", "\ufffd", "\ufffd\ufffd?",
         "Ã", "Â", "Ã ", "Ã©", "voilÃ le travail", "sÃ³", "Ã  la mode", "Ã\xa0 la carte"]


def mojibake(rng: random.Random, s: str) -> str:
    encs = ["latin-1", "cp1252", "cp1251", "cp1250", "cp1253", "cp1254", "cp1257", "iso-8859-2", "mac_roman",
            "cp437"]
    b = s.encode("utf-8")
    enc = rng.choice(encs)
    out = b.decode(enc, errors="replace")
    if rng.random() < 0.2:  # doubly encoded
        out = out.encode("utf-8").decode(rng.choice(["latin-1", "cp1252"]), errors="replace")
    if rng.random() < 0.15:  # a no-break space lost to a space
        out = out.replace("\xa0", " ")
    if rng.random() < 0.1:  # lossy: undecodable bytes became '?'
        out = out.replace("\ufffd", "?")
    return out


def caption(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def corpus(rng: random.Random) -> list[bytes]:
    items: list[str | bytes] = []
    templates = ["a photo of a {}.", "A bad photo of the {}.", "a {} in the wild", "itap of a {}",
                 "a close-up photo of my {}!", "art of the {}", "a tattoo of a {}", "{}"]
    for w in WORDS:
        items.append(rng.choice(templates).format(w))
    for _ in range(300):
        s = caption(rng, rng.randint(1, 25))
        items.append(s.capitalize() + rng.choice([".", "", "!", "?", " ...", ";"]))
    for _ in range(150):
        items.append("".join(rng.choice(PUNCT) + rng.choice(["", "", " ", "a", "1"]) for _ in range(rng.randint(1, 8))))
    for _ in range(120):
        forms = [str(rng.randint(0, 10**rng.randint(1, 12))), f"{rng.random() * 1000:.3f}", f"${rng.randint(1, 99999):,}",
                 f"{rng.randint(1, 12)}:{rng.randint(0, 59):02d}pm", f"+1 ({rng.randint(100, 999)}) 555-0{rng.randint(100, 999)}",
                 f"{rng.randint(1, 31)}/{rng.randint(1, 12)}/{rng.randint(1900, 2030)}", f"{rng.randint(1, 99)}%",
                 f"{rng.randint(1, 9)}x{rng.randint(1, 9)}", f"v{rng.randint(0, 9)}.{rng.randint(0, 99)}.{rng.randint(0, 9)}",
                 f"{rng.randint(1, 100)}th", f"COVID-19", f"1e-{rng.randint(1, 9)}"]
        items.append(caption(rng, rng.randint(0, 4)) + " " + rng.choice(forms))
    for _ in range(120):
        items.append(caption(rng, rng.randint(0, 5)) + " " + "".join(rng.choice(EMOJI) for _ in range(rng.randint(1, 4))))
    for _ in range(100):
        items.append(rng.choice(CJK) + rng.choice(["", " ", "。", " photo", "!"]) + rng.choice(CJK))
    for _ in range(150):
        s = rng.choice(ACCENTED) + " " + caption(rng, rng.randint(0, 3)) + " " + rng.choice(ACCENTED)
        items.append(unicodedata.normalize(rng.choice(["NFC", "NFD", "NFC", "NFKD"]), s))
    for _ in range(80):
        items.append(caption(rng, rng.randint(0, 3)) + " " + rng.choice(QUOTES) + " " + rng.choice(QUOTES))
    for _ in range(160):
        s = " ".join([caption(rng, rng.randint(0, 3)), rng.choice(ENTITIES), rng.choice(ENTITIES)])
        r = rng.random()
        if r < 0.15:
            s = "<b>" + s + "</b>"
        elif r < 0.25:
            s = s + "\n" + rng.choice(ENTITIES) + " <i>"
        elif r < 0.35:
            s = rng.choice(ENTITIES) + "\n<p>" + rng.choice(ENTITIES) + "\n" + rng.choice(ENTITIES)
        items.append(s)
    for _ in range(100):  # long captions that truncate
        items.append(caption(rng, rng.randint(40, 120)) + " " + rng.choice(["the end", "!" * 90, "1" * 100, "🔥" * 30]))
    items += ["", " ", "   ", "\t", "\n", "\r\n", "\u3000\u3000", "\u00a0", "\u200b", "\ufeff", "\x00", "&nbsp;",
              "&#32;", "<", "&"]
    for _ in range(120):
        items.append("".join(rng.choice(SPACES) + rng.choice(["", "", caption(rng, 1)]) for _ in range(rng.randint(1, 6))))
    for _ in range(60):
        items.append(caption(rng, rng.randint(0, 2)) + " " + "".join(rng.choice(LIGATURES) for _ in range(rng.randint(1, 3)))
                     + rng.choice(["le", "ow", "", " flower"]))
    for _ in range(70):
        items.append(rng.choice(FULLWIDTH) + rng.choice(["", " ", "　"]) + rng.choice(FULLWIDTH + [caption(rng, 2)]))
    sources = ACCENTED + QUOTES + CJK + EMOJI + ["naïve café", "It’s “fine” — really…", "Größe 10 €", "Ñandú",
                                                  "señor’s pâté", "2 × 3 ≈ 6", "50 °C", "© 2024 • ½ price"]
    for _ in range(300):
        s = rng.choice(sources) + rng.choice(["", " ", " " + caption(rng, 2) + " "]) + rng.choice(sources)
        bad = mojibake(rng, s)
        r = rng.random()
        if r < 0.2:  # only part of the text is mojibake
            bad = rng.choice(sources) + " " + bad
        elif r < 0.3:
            bad = bad + "\n" + s
        items.append(bad)
    for _ in range(40):  # C1 controls and windows-1252 lookalikes
        items.append(caption(rng, 2) + " " + "".join(chr(rng.randint(0x80, 0x9F)) for _ in range(rng.randint(1, 3))) + " ok")
    items += WEIRD
    for _ in range(60):
        items.append(rng.choice(WEIRD) + " " + rng.choice(WEIRD + [caption(rng, 2)]))
    # Random Unicode: assigned, non-surrogate code points from across the planes.
    assigned = [c for c in range(0x20, 0x30000) if unicodedata.category(chr(c)) not in ("Cn", "Cs", "Co")]
    for _ in range(200):
        n = rng.randint(1, 12)
        items.append("".join(chr(rng.choice(assigned)) + rng.choice(["", "", " "]) for _ in range(n)))
    # Invalid UTF-8: raw bytes.
    bad_bytes = [b"\xff", b"\xfe\xff", b"\xc0\x80", b"\xc1\xbf", b"\xe0\x80\x80", b"\xed\xa0\x80", b"\xed\xa0\xbd\xed\xb8\x80",
                 b"\xf4\x90\x80\x80", b"\xf5", b"\x80", b"\xbf\xbf", b"\xe2\x82", b"\xe2\x82\x28", b"\xf0\x9f\x98",
                 b"\xf0\x9f", b"\xc3", b"\xc3\x28", b"\xa0\xa1", b"\xe2\x80\x9c\xe2\x80", b"caf\xe9", b"na\xefve"]
    for _ in range(120):
        parts = [rng.choice(bad_bytes) if rng.random() < 0.5 else caption(rng, rng.randint(0, 2)).encode()
                 for _ in range(rng.randint(1, 5))]
        items.append(b" ".join(parts) if rng.random() < 0.5 else b"".join(parts))
    for _ in range(40):
        items.append(bytes(rng.randint(0, 255) for _ in range(rng.randint(1, 16))))
    return [x if isinstance(x, bytes) else x.encode("utf-8", errors="surrogatepass") for x in items]


def escape(raw: bytes) -> str:
    out = []
    text = raw.decode("utf-8", errors="surrogateescape")
    for ch in text:
        c = ord(ch)
        if 0xDC80 <= c <= 0xDCFF:  # a byte that is not valid UTF-8
            out.append("\\x%02x" % (c - 0xDC00))
        elif ch == "\\":
            out.append("\\\\")
        elif ch in "\t\n\r":
            out.append({"\t": "\\t", "\n": "\\n", "\r": "\\r"}[ch])
        elif unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn") or c in (0x85,):
            out.append("".join("\\x%02x" % b for b in ch.encode("utf-8", errors="surrogatepass")))
        else:
            out.append(ch)
    s = "".join(out)
    return "\\x23" + s[1:] if s.startswith("#") else s


def main():
    import ftfy
    import regex
    rng = random.Random(20240601)
    with tempfile.TemporaryDirectory() as tmp:
        ref = load_reference(Path(tmp))
        tok = ref.SimpleTokenizer()
        rows, seen = [], set()
        for raw in corpus(rng):
            if raw in seen:
                continue
            seen.add(raw)
            ids = tok([raw.decode("utf-8", errors="replace")], context_length=77)[0].tolist()
            while ids and ids[-1] == 0:  # the padding (the last real id is always <end_of_text>)
                ids.pop()
            rows.append(escape(raw) + "\t" + " ".join(map(str, ids)))
    header = [
        "# CLIP tokenizer parity fixture: input (escaped bytes) TAB open_clip ids (context 77, padding left out).",
        f"# reference: open_clip_torch {VERSION} (open_clip/tokenizer.py, SimpleTokenizer), ftfy {ftfy.__version__},"
        f" regex {regex.__version__}, Python {sys.version.split()[0]} (unicodedata {unicodedata.unidata_version})",
        "# invalid UTF-8 reaches the reference as bytes.decode('utf-8', errors='replace')",
        "# made by: /usr/bin/python3 tools/make_tokenizer_fixtures.py",
        f"# strings: {len(rows)}",
    ]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("\n".join(header + rows) + "\n", encoding="utf-8")
    print(f"wrote {OUT}: {len(rows)} strings")


if __name__ == "__main__":
    main()
