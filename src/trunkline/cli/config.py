"""Neutron's own configuration files for ``trunkline server|up|agent --config-file F ...``.

OPTIONS is the one table of the options trunkline reads from neutron.conf, ml2_conf.ini,
openvswitch_agent.ini, linuxbridge_agent.ini and dhcp_agent.ini, each with the command-line
flag it sets; docs/config.md's table and ``trunkline config sample`` are generated from it.
Files are read with oslo.config's own INI parser and its semantics: later files override
earlier ones, the last of a repeated key wins, section names other than ``DEFAULT`` are
lower-cased, ``$option``/``${section.option}`` substitute and ``$$`` is a dollar sign. A flag
given on the command line wins over every file. Only oslo.config's small parser module is
imported (not oslo.config itself, whose import is many times slower), and only when a
file is given: the agent is a light command and must start fast.
"""
import argparse
import collections
import os
import re

SERVER = ("server", "up")
AGENT = ("agent",)
ENV_DB_URL = "TRUNKLINE_DB_URL"   # the database URL (and its password) off the command line
_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0")


class ConfigFileError(Exception):
    """A file that cannot be read or a value that cannot be used; the message says where."""


def boolean(text):
    value = text.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError("%r is not a boolean (true or false)" % text)


def split(text):
    """oslo.config's ListOpt: comma-separated, stripped, empty items dropped."""
    return [item.strip() for item in text.split(",") if item.strip()]


# -- converters: (text, action, current value, source file) -> the flag's value

def _flag(text, action, current, source):
    """As if the text were given to the flag."""
    if action.nargs == 0:  # store_true
        return boolean(text)
    value = action.type(text) if action.type else text
    if action.choices and value not in action.choices:
        raise ValueError("%r is not one of %s" % (text, ", ".join(action.choices)))
    return value


def _listed(text, action, current, source):
    """A list option for a repeatable flag: each item as if given to the flag once."""
    return [action.type(item) if action.type else item for item in split(text)]


def _bind_host(text, action, current, source):
    return "%s:%s" % (text.strip(), current.rpartition(":")[2])


def _bind_port(text, action, current, source):
    return "%s:%d" % (current.rpartition(":")[0], int(text))


def _connection(text, action, current, source):
    """oslo.db's URL; trunkline has its own drivers for SQLite and PostgreSQL."""
    scheme, sep, rest = text.strip().partition("://")
    if not sep:
        raise ValueError("%r is not a database URL" % text)
    base = scheme.split("+", 1)[0]
    if base in ("postgresql", "postgres"):
        return "postgresql://" + rest
    if base == "sqlite":
        return "sqlite://" + rest
    raise ValueError("trunkline stores its state in SQLite or PostgreSQL, not %s" % base)


def _beside(text, action, current, source):
    """A path; relative ones are found beside the file naming them, as oslo.config does."""
    return os.path.join(os.path.dirname(os.path.abspath(source)), text.strip())


def _beside_list(text, action, current, source):
    return [_beside(item, action, current, source) for item in split(text)]


def _bridge_mappings(text, action, current, source):
    """``physnet1:br-eth2``: trunkline builds each provider bridge itself as ``br-<iface>``
    holding ``<iface>``, so the bridge must be named that way."""
    out = []
    for item in split(text):
        physnet, _, bridge = item.partition(":")
        if not bridge.startswith("br-") or len(bridge) <= 3:
            raise ValueError("bridge %r of %s: trunkline creates the provider bridge br-IFACE "
                             "holding interface IFACE, so name it br-<interface>" % (bridge, item))
        out.append(action.type("%s:%s" % (physnet, bridge[3:])))
    return out


# -- notes: options without a flag, where trunkline behaves one way only

def _note_l2_population(text, source):
    """Open vSwitch: always on; false is reported"""
    if not boolean(text):
        return ("[agent] l2_population = false in %s: trunkline's Open vSwitch agents always "
                "use L2 population (flooding to every tunnel endpoint is not implemented; "
                "Linux bridge agents read [vxlan] l2_population)" % source)


def _note_firewall(text, source):
    """no filtering; anything but noop is reported"""
    if text.strip().lower() not in ("", "noop", "none"):
        return ("firewall_driver = %s in %s: trunkline's agents do not filter traffic; security "
                "groups exist in the API only" % (text.strip(), source))


# flag: the flag it sets (None: no flag, ``note`` says what trunkline does instead);
# convert: (text, argparse action, current value, file) -> the flag's value
Opt = collections.namedtuple("Opt", "section name commands flag convert note",
                             defaults=(_flag, None))


OPTIONS = [
    Opt("DEFAULT", "bind_host", SERVER, "--bind", _bind_host),
    Opt("DEFAULT", "bind_port", SERVER, "--bind", _bind_port),
    Opt("DEFAULT", "agent_down_time", SERVER, "--agent-down-time"),
    Opt("DEFAULT", "auth_strategy", SERVER, "--auth"),
    Opt("DEFAULT", "api_workers", SERVER, "--workers"),
    Opt("DEFAULT", "pagination_max_limit", SERVER, "--pagination-max-limit"),
    Opt("DEFAULT", "client_socket_timeout", SERVER, "--client-socket-timeout"),
    Opt("DEFAULT", "max_request_body_size", SERVER, "--max-request-body-size"),
    Opt("DEFAULT", "host", AGENT, "--host"),
    Opt("DEFAULT", "debug", SERVER + AGENT, "--debug"),
    Opt("DEFAULT", "log_file", SERVER + AGENT, "--log-file"),
    Opt("DEFAULT", "use_json", SERVER + AGENT, "--use-json"),
    Opt("database", "connection", SERVER, "--db", _connection),
    Opt("ml2", "type_drivers", SERVER, "--type-drivers"),
    Opt("ml2", "tenant_network_types", SERVER, "--tenant-network-types"),
    Opt("ml2", "mechanism_drivers", SERVER, "--mechanism-drivers"),
    Opt("ml2_type_flat", "flat_networks", SERVER, "--flat-networks"),
    Opt("ml2_type_vxlan", "vni_ranges", SERVER, "--vni-ranges"),
    Opt("ml2_type_vlan", "network_vlan_ranges", SERVER, "--network-vlan-ranges"),
    Opt("ml2_type_gre", "tunnel_id_ranges", SERVER, "--tunnel-id-ranges"),
    Opt("keystone_authtoken", "auth_url", SERVER, "--keystone-url"),
    Opt("keystone_authtoken", "username", SERVER, "--keystone-user"),
    Opt("keystone_authtoken", "password", SERVER, "--keystone-password"),
    Opt("keystone_authtoken", "project_name", SERVER, "--keystone-project"),
    Opt("keystone_authtoken", "user_domain_name", SERVER, "--keystone-user-domain"),
    Opt("keystone_authtoken", "project_domain_name", SERVER, "--keystone-project-domain"),
    Opt("keystone_authtoken", "token_cache_time", SERVER, "--token-cache-ttl"),
    Opt("keystone_authtoken", "auth_type", SERVER, "--keystone-auth-type"),
    Opt("keystone_authtoken", "application_credential_id", SERVER,
        "--keystone-application-credential-id"),
    Opt("keystone_authtoken", "application_credential_secret", SERVER,
        "--keystone-application-credential-secret"),
    Opt("keystone_authtoken", "cafile", SERVER, "--keystone-cafile"),
    Opt("keystone_authtoken", "certfile", SERVER, "--keystone-certfile"),
    Opt("keystone_authtoken", "keyfile", SERVER, "--keystone-keyfile"),
    Opt("keystone_authtoken", "insecure", SERVER, "--keystone-insecure"),
    Opt("keystone_authtoken", "service_type", SERVER, "--keystone-service-type"),
    Opt("keystone_authtoken", "service_token_roles", SERVER, "--keystone-service-token-roles"),
    Opt("keystone_authtoken", "service_token_roles_required", SERVER,
        "--keystone-service-token-roles-required"),
    Opt("oslo_policy", "policy_file", SERVER, "--policy-file", _beside),
    Opt("oslo_policy", "enforce_scope", SERVER, "--enforce-scope"),
    Opt("oslo_policy", "enforce_new_defaults", SERVER, "--enforce-new-defaults"),
    Opt("oslo_policy", "policy_dirs", SERVER, "--policy-dir", _beside_list),
    Opt("ovs", "bridge_mappings", AGENT, "--physnet-mapping", _bridge_mappings),
    Opt("ovs", "local_ip", AGENT, "--tunnel-ip"),
    Opt("ovs", "datapath_type", AGENT, "--datapath-type"),
    Opt("ovs", "integration_bridge", AGENT, "--integration-bridge"),
    Opt("linux_bridge", "physical_interface_mappings", AGENT, "--physnet-mapping", _listed),
    Opt("vxlan", "local_ip", AGENT, "--tunnel-ip"),
    Opt("agent", "tunnel_types", AGENT, "--tunnel-types"),
    Opt("agent", "arp_responder", AGENT, "--arp-responder"),
    Opt("agent", "report_interval", AGENT, "--report-interval"),
    Opt("agent", "l2_population", AGENT, None, note=_note_l2_population),
    Opt("vxlan", "l2_population", AGENT, "--no-l2-population"),
    Opt("vxlan", "vxlan_group", AGENT, "--vxlan-group"),
    Opt("vxlan", "udp_dstport", AGENT, "--vxlan-port"),
    Opt("securitygroup", "firewall_driver", AGENT, None, note=_note_firewall),
]
_KNOWN = {(o.section, o.name) for o in OPTIONS}
_REF = re.compile(r"\$(?:(\$)|\{([^}]*)\}|([A-Za-z_][A-Za-z0-9_]*))")


def _parser_class():
    from oslo_config import iniparser

    class Parser(iniparser.BaseParser):
        """oslo.config's ConfigParser, reduced to what it keeps: {section: {key: value}}."""

        def __init__(self, sections, source):
            super().__init__()
            self.sections = sections
            self.source = source
            self.section = None

        def new_section(self, section):
            self.section = section if section == "DEFAULT" else section.lower()
            self.sections.setdefault(self.section, {})

        def assignment(self, key, value):
            if self.section is None:
                raise self.parse_exc("Section must be started before assignment",
                                     self.lineno, "")
            self.sections[self.section][key] = ("\n".join(value), self.source)

    return Parser, iniparser.ParseError


def read(files):
    """{section: {option: (value, file)}} of ``files``, later ones overriding earlier ones."""
    parser_class, parse_error = _parser_class()
    sections = {}
    for path in files:
        parser = parser_class(sections, path)
        try:
            with open(path) as f:
                parser.parse(f)
        except OSError as e:
            raise ConfigFileError("cannot read config file %s: %s" % (path, e.strerror or e))
        except UnicodeDecodeError as e:
            raise ConfigFileError("config file %s is not text: %s" % (path, e))
        except parse_error as e:
            raise ConfigFileError("config file %s is malformed %s" % (path, e))
    for section, values in sections.items():
        for name, (value, source) in values.items():
            values[name] = (_substitute(sections, section, name, value, source), source)
    return sections


def _substitute(sections, section, name, value, source, depth=0):
    def ref(m):
        if m.group(1):
            return "$"
        target = m.group(2) if m.group(2) is not None else m.group(3)
        group, _, opt = target.rpartition(".")
        group = group or "DEFAULT"
        found = sections.get(group, {}).get(opt) or sections.get(section, {}).get(opt)
        if found is None or depth > 10:
            raise ConfigFileError("config file %s: [%s] %s refers to $%s, which is not set "
                                  "(write $$ for a dollar sign)" % (source, section, name, target))
        return _substitute(sections, group, opt, found[0], found[1], depth + 1)
    return _REF.sub(ref, value)


def policy_options(files):
    """api.policy.Policy's keyword arguments from the ``[oslo_policy]`` options of ``files``
    (for oslo.policy's command-line tools, which start no server)."""
    section = read(files).get("oslo_policy", {})
    out = {}
    if "policy_file" in section:
        out["policy_file"] = _beside(section["policy_file"][0], None, None,
                                     section["policy_file"][1])
    if "policy_dirs" in section:
        out["policy_dirs"] = _beside_list(section["policy_dirs"][0], None, None,
                                          section["policy_dirs"][1])
    for name in ("enforce_scope", "enforce_new_defaults"):
        if name in section:
            out[name] = boolean(section[name][0])
    return out


def add_argument(parser):
    parser.add_argument("--config-file", action="append", default=[], metavar="FILE",
                        dest="config_files",
                        help="a Neutron configuration file (neutron.conf, ml2_conf.ini, "
                             "openvswitch_agent.ini, dhcp_agent.ini ...); repeatable, later "
                             "files override earlier ones, flags override files; see "
                             "`trunkline config sample`")


def files_in(argv):
    """The --config-file values of a command line, before it is parsed."""
    out = []
    for i, arg in enumerate(argv):
        if arg == "--config-file" and i + 1 < len(argv):
            out.append(argv[i + 1])
        elif arg.startswith("--config-file="):
            out.append(arg.split("=", 1)[1])
    return out


def explicit(parser, argv):
    """The dests the command line itself sets (parsed again with every default suppressed)."""
    saved = [(a, a.default) for a in parser._actions]
    try:
        for action, _ in saved:
            action.default = argparse.SUPPRESS
        return set(vars(parser.parse_args(argv)))
    finally:
        for action, default in saved:
            action.default = default


def apply(args, parser, argv, command):
    """Fill ``args`` from the --config-file files for what the command line ``argv`` (the
    subcommand's own) did not set; returns the lines to log (ignored options, notes)."""
    files = getattr(args, "config_files", None) or []
    if not files:
        return []
    sections = read(files)
    given = explicit(parser, argv)
    if command in SERVER and os.environ.get(ENV_DB_URL):
        given.add("db")  # the environment wins over files, as with oslo.config
    actions = {s: a for a in parser._actions for s in a.option_strings}
    lines, ignored = [], []
    for opt in OPTIONS:
        entry = sections.get(opt.section, {}).get(opt.name)
        if entry is None or command not in opt.commands:
            continue
        text, source = entry
        try:
            if opt.note is not None:
                line = opt.note(text, source)
                if line:
                    lines.append(line)
                continue
            action = actions[opt.flag]
            if action.dest in given:
                continue
            setattr(args, action.dest,
                    opt.convert(text, action, getattr(args, action.dest), source))
        except (ValueError, argparse.ArgumentTypeError) as e:
            raise ConfigFileError("config file %s: [%s] %s = %s: %s"
                                  % (source, opt.section, opt.name, _shown(opt, text), e))
    for section, values in sections.items():
        ignored += ["[%s] %s" % (section, name) for name in values
                    if (section, name) not in _KNOWN]
    if ignored:
        lines.insert(0, "config files %s: ignored (not implemented by trunkline): %s"
                     % (", ".join(files), ", ".join(ignored)))
    return lines


def _shown(opt, text):
    if opt.name in ("password", "connection", "application_credential_secret"):
        return "***"
    return text


def sample(parsers):
    """A sample configuration of every option (``trunkline config sample``), as
    oslo-config-generator writes one: commented out, with the flag's help and default."""
    out = ["# trunkline: the Neutron options it reads. Command-line flags override these.", ""]
    section = None
    for opt in OPTIONS:
        if opt.section != section:
            section = opt.section
            out += ["[%s]" % section, ""]
        parser = parsers[opt.commands[0]]
        action = next((a for a in parser._actions if opt.flag in a.option_strings), None)
        what = ("trunkline %s: %s" % ("/".join(opt.commands), opt.flag) if opt.flag else
                "trunkline %s: no flag (%s)" % ("/".join(opt.commands),
                                                 (opt.note.__doc__ or "noted").strip()))
        out.append("# %s" % what)
        if action is not None and action.help:
            out.append("# %s" % _wrap(action.help % {"default": action.default}
                                     if "%(default)" in action.help else action.help))
        out += ["#%s = %s" % (opt.name, _sample_value(opt, action)), ""]
    return "\n".join(out)


def _sample_value(opt, action):
    """The flag's default written as the file would hold it."""
    default = action.default if action is not None else None
    if opt.name in ("bind_host", "bind_port"):
        return default.rpartition(":")[0 if opt.name == "bind_host" else 2]
    if isinstance(default, bool):
        return str(default).lower()
    if isinstance(default, (int, float, str)):
        return default if not isinstance(default, float) else "%g" % default
    if isinstance(default, list) and all(isinstance(d, str) for d in default):
        return ",".join(default)
    return ""


def _wrap(text):
    words, lines, line = text.split(), [], ""
    for w in words:
        if len(line) + len(w) > 90:
            lines.append(line)
            line = w
        else:
            line = (line + " " + w).strip()
    lines.append(line)
    return "\n# ".join(lines)


def table(parsers):
    """The Markdown table of docs/commands.md (generated: ``trunkline config table``)."""
    rows = ["| file section | option | command | flag |", "|---|---|---|---|"]
    for opt in OPTIONS:
        rows.append("| `[%s]` | `%s` | %s | %s |" % (
            opt.section, opt.name, ", ".join(opt.commands),
            "`%s`" % opt.flag if opt.flag else (opt.note.__doc__ or "").strip()))
    return "\n".join(rows)
