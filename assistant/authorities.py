"""Names of English local authorities, and turning a name as written into a short one.

The list lets the assistant recognise an authority named in a question even when no
letter about it is indexed ("no letters about Leeds"), and name the authority of a
document that is not an Ofsted letter (such as a council's cabinet report).
"""

from __future__ import annotations

import re

#: Local authorities in England with children's services (short names).
ENGLISH_AUTHORITIES = (
    "Barking and Dagenham", "Barnet", "Barnsley", "Bath and North East Somerset", "Bedford",
    "Bexley", "Birmingham", "Blackburn with Darwen", "Blackpool", "Bolton",
    "Bournemouth, Christchurch and Poole", "Bracknell Forest", "Bradford", "Brent",
    "Brighton and Hove", "Bristol", "Bromley", "Buckinghamshire", "Bury", "Calderdale",
    "Cambridgeshire", "Camden", "Central Bedfordshire", "Cheshire East",
    "Cheshire West and Chester", "City of London", "Cornwall", "Coventry", "Croydon",
    "Cumberland", "Cumbria", "Darlington", "Derby", "Derbyshire", "Devon", "Doncaster", "Dorset",
    "Dudley", "Durham", "Ealing", "East Riding of Yorkshire", "East Sussex", "Enfield", "Essex",
    "Gateshead", "Gloucestershire", "Greenwich", "Hackney", "Halton", "Hammersmith and Fulham",
    "Hampshire", "Haringey", "Harrow", "Hartlepool", "Havering", "Herefordshire",
    "Hertfordshire", "Hillingdon", "Hounslow", "Isle of Wight", "Isles of Scilly", "Islington",
    "Kensington and Chelsea", "Kent", "Kingston upon Hull", "Hull", "Kingston upon Thames",
    "Kirklees", "Knowsley", "Lambeth", "Lancashire", "Leeds", "Leicester", "Leicestershire",
    "Lewisham", "Lincolnshire", "Liverpool", "Luton", "Manchester", "Medway", "Merton",
    "Middlesbrough", "Milton Keynes", "Newcastle upon Tyne", "Newcastle", "Newham", "Norfolk",
    "North East Lincolnshire", "North Lincolnshire", "North Northamptonshire", "North Somerset",
    "North Tyneside", "North Yorkshire", "Northamptonshire", "Northumberland", "Nottingham",
    "Nottinghamshire", "Oldham", "Oxfordshire", "Peterborough", "Plymouth", "Portsmouth",
    "Reading", "Redbridge", "Redcar and Cleveland", "Richmond upon Thames", "Rochdale",
    "Rotherham", "Rutland", "Salford", "Sandwell", "Sefton", "Sheffield", "Shropshire", "Slough",
    "Solihull", "Somerset", "South Gloucestershire", "South Tyneside", "Southampton",
    "Southend-on-Sea", "Southend", "Southwark", "St Helens", "Staffordshire", "Stockport",
    "Stockton-on-Tees", "Stoke-on-Trent", "Suffolk", "Sunderland", "Surrey", "Sutton", "Swindon",
    "Tameside", "Telford and Wrekin", "Thurrock", "Torbay", "Tower Hamlets", "Trafford",
    "Wakefield", "Walsall", "Waltham Forest", "Wandsworth", "Warrington", "Warwickshire",
    "West Berkshire", "West Northamptonshire", "West Sussex", "Westminster", "Westmorland and Furness",
    "Wigan", "Wiltshire", "Windsor and Maidenhead", "Wirral", "Wokingham", "Wolverhampton",
    "Worcestershire", "York",
)

_PREFIXES = (
    "the", "city of", "london borough of", "royal borough of", "metropolitan borough of",
    "borough of", "county of", "council of the",
)
_SUFFIXES = (
    "children and families trust", "children's services trust", "children's trust", "childrens trust",
    "children's services", "safeguarding children board", "safeguarding children partnership",
    "local authority", "metropolitan borough council", "metropolitan district council",
    "borough council", "city council", "county council", "district council", "council",
    "metropolitan borough", "city", "county",
)
#: Other names an authority goes by -> the name used for it everywhere.
ALIASES = {
    "hull": "Kingston upon Hull", "hull city": "Kingston upon Hull", "newcastle": "Newcastle upon Tyne",
    "southend": "Southend-on-Sea", "county durham": "Durham", "bcp": "Bournemouth, Christchurch and Poole",
    "bournemouth christchurch and poole": "Bournemouth, Christchurch and Poole",
}


def canonical_name(as_written: str) -> str:
    """Shorten an authority's name as written to its usual short form.

    "City of Wolverhampton council" -> "Wolverhampton";
    "Wirral Metropolitan Borough Council" -> "Wirral"; "Bradford Children and Families Trust"
    -> "Bradford"; "Hull" -> "Kingston upon Hull".
    """
    name = " ".join(as_written.replace("’", "'").replace("&", " and ").split()).strip(" ,.'")
    changed = True
    while changed and name:
        changed = False
        low = name.lower()
        for prefix in _PREFIXES:
            if low.startswith(prefix + " ") and len(name) > len(prefix) + 1:
                name, changed = name[len(prefix) + 1 :].strip(), True
                break
        low = name.lower()
        for suffix in _SUFFIXES:
            if low.endswith(" " + suffix) and len(name) > len(suffix) + 1:
                name, changed = name[: -len(suffix) - 1].strip(" ,"), True
                break
    known = {a.lower(): a for a in ENGLISH_AUTHORITIES}
    return ALIASES.get(name.lower()) or known.get(name.lower(), name)


def name_pattern(names: list[str] | tuple[str, ...]) -> re.Pattern[str] | None:
    """One regex finding any of ``names`` as whole words (longest first), possessives allowed."""
    names = sorted({n for n in names if n}, key=len, reverse=True)
    if not names:
        return None
    alternatives = "|".join(re.escape(n).replace(r"\ ", r"\s+") for n in names)
    return re.compile(rf"(?<![\w-])({alternatives})(?:'s|’s|s')?(?![\w-])", re.IGNORECASE)
