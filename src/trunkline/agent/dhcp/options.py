"""A port's extra DHCP options as lines of dnsmasq's `opts` file, the way Neutron's dnsmasq
driver writes them: `tag:port-<id>[,<the option's own tags>],<option>[,<value>]` where the
option is `option:<name>` (IPv4), the bare number (IPv4, numeric names) or `option6:<name or
number>` (IPv6); an option applies only when the port has an address of its IP version; the
client-id goes into the host line (`id:<value>`) instead.

Names and values are user text, so each option is checked before it is written, whatever the
API let through: the name must be an option dnsmasq knows (its own list, `dnsmasq --help
dhcp` / `dhcp6`) or a number in range, the tags plain tag names, and the value one line of
printable text without a double quote (which dnsmasq would parse). An option that fails is
logged and left out; the rest of the file is unaffected. One difference from Neutron: an
empty value (router, classless-static-route) is written without the trailing comma, the form
dnsmasq 2.90 reads as "send this option empty" (with the comma it refuses the line).
"""
import functools
import logging
import re
import subprocess
import unicodedata

LOG = logging.getLogger(__name__)
CLIENT_ID_NAMES = ("client-id", "61")
MAX_LINE = 1000        # bytes; an option's data is at most 255 bytes
_TAG = re.compile(r"tag:!?[A-Za-z0-9_.-]{1,64}")
_NAME = re.compile(r"[A-Za-z0-9+-]{1,64}")
_CLIENT_ID = re.compile(r"[A-Za-z0-9:._*@+/-]{1,255}")
_HELP_LINE = re.compile(r"^\s*(\d+)\s+(\S+)\s*$")


def port_tag(port_id):
    return "port-%s" % port_id


@functools.lru_cache(maxsize=None)
def known_names(dnsmasq="dnsmasq"):
    """{4: names, 6: names} of the DHCP options this dnsmasq knows (asked once per process);
    empty sets when it cannot be asked (then only numeric options are written)."""
    out = {}
    for version, topic in ((4, "dhcp"), (6, "dhcp6")):
        try:
            text = subprocess.run([dnsmasq, "--help", topic], capture_output=True, text=True,
                                  timeout=10).stdout
        except (OSError, subprocess.SubprocessError):
            text = ""
        out[version] = frozenset(m.group(2) for m in map(_HELP_LINE.match, text.splitlines())
                                 if m)
    return out


def client_id(port_id, opts):
    """The port's client-id option value for its host line, when it has a safe one."""
    for opt in opts:
        if str(opt.get("opt_name")) in CLIENT_ID_NAMES:
            value = opt.get("opt_value")
            if isinstance(value, str) and _CLIENT_ID.fullmatch(value):
                return value
            LOG.warning("port %s: client-id %r cannot be written safely to the dnsmasq hosts "
                        "file; left out", port_id, value)
            return None
    return None


def port_lines(port, known=None):
    """The `opts` lines of one port's extra DHCP options (see the module docstring)."""
    known = known_names() if known is None else known
    versions = {6 if ":" in f["ip_address"] else 4 for f in port.get("fixed_ips") or []}
    out = []
    for opt in port.get("extra_dhcp_opts") or []:
        name, version = str(opt.get("opt_name")), opt.get("ip_version", 4)
        if name in CLIENT_ID_NAMES:
            continue
        if version not in versions:
            LOG.info("port %s: DHCP option %r is for IPv%s, which the port has no address "
                     "of; not applied", port["id"], name, version)
            continue
        line, why = _line(port["id"], name, opt.get("opt_value"), version, known)
        if line is None:
            LOG.warning("port %s: DHCP option %r (IPv%s) %s; left out of the dnsmasq options "
                        "file", port["id"], name, version, why)
            continue
        out.append(line)
    return out


def _line(port_id, name, value, version, known):
    """(line, None) or (None, why not)."""
    # Neutron's split: an option name may carry its own tags, `tag:a[,tag:b],<option>`
    head, sep, option = name.rpartition(",")
    tags = head.split(",") if sep else []
    if sep and not name.startswith("tag:"):
        return None, "has a name with a comma outside its tags"
    if not all(_TAG.fullmatch(t) for t in tags):
        return None, "has tags that are not plain tag names"
    if option.isdigit() and option.isascii():
        if len(option) > 5 or not 0 < int(option) < (65536 if version == 6 else 255):
            return None, "has a number out of range"
        spelled = ("option6:%s" % int(option)) if version == 6 else str(int(option))
    elif _NAME.fullmatch(option) and option in known.get(version, ()):
        spelled = ("option6:%s" if version == 6 else "option:%s") % option
    else:
        return None, "is not an option dnsmasq knows"
    if not isinstance(value, str):
        return None, "has no text value"
    reason = _unsafe(value)
    if reason:
        return None, reason
    fields = ["tag:" + port_tag(port_id)] + tags + [spelled] + ([value] if value else [])
    line = ",".join(fields)
    try:
        if len(line.encode("utf-8")) > MAX_LINE:
            return None, "is too long"
    except UnicodeEncodeError:
        return None, "is not valid Unicode text"
    return line, None


def _unsafe(value):
    for char in value:
        category = unicodedata.category(char)
        if category in ("Cc", "Cs", "Zl", "Zp"):   # control, surrogate, line/para separators
            return "has a control or line-separator character"
        if char == '"':
            return "has a double quote"
    return None
