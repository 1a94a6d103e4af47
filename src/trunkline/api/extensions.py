"""The API extensions trunkline really implements, as ``GET /v2.0/extensions`` lists them."""

_UPDATED = "2013-01-20T00:00:00-00:00"

EXTENSIONS = [
    ("agent", "agent", "The agent management extension."),
    ("allowed-address-pairs", "Allowed Address Pairs", "Provides allowed address pairs"),
    ("binding", "Port Binding", "Expose port bindings of a virtual port to external application"),
    ("empty-string-filtering", "Empty String Filtering Extension",
     "Allow filtering by attributes with empty string value"),
    ("external-net", "Neutron external network", "Adds external network attribute to network "
     "resource."),
    ("extra_dhcp_opt", "Neutron Extra DHCP options",
     "Extra options configuration for DHCP. For example PXE boot options to DHCP clients can "
     "be specified (e.g. tftp-server, server-ip-address, bootfile-name)"),
    ("filter-validation", "Filter parameters validation", "Provides validation on filter "
     "parameters."),
    ("ip-substring-filtering", "IP address substring filtering",
     "Provides IP address substring filtering when listing ports"),
    ("net-mtu", "Network MTU", "Provides MTU attribute for a network resource."),
    ("net-mtu-writable", "Network MTU (writable)",
     "Provides a writable MTU attribute for a network resource."),
    ("pagination", "Pagination support", "Extension that indicates that pagination is enabled."),
    ("port-security", "Port Security", "Provides port security"),
    ("project-id", "project_id field enabled",
     "Extension that indicates that project_id field is enabled."),
    ("provider", "Provider Network", "Expose mapping of virtual networks to physical networks"),
    ("revision-if-match", "If-Match constraints based on revision_number",
     "Extension indicating that If-Match based on revision_number is supported."),
    ("sorting", "Sorting support", "Extension that indicates that sorting is enabled."),
    ("standard-attr-description", "standard-attr-description",
     "Extension to add descriptions to standard attributes"),
    ("standard-attr-revisions", "Resource revision numbers",
     "This extension will display the revision number of neutron resources."),
    ("standard-attr-tag", "Tag support for resources with standard attribute: subnet, trunk, "
     "network, port", "Enables to set tag on resources with standard attribute."),
    ("standard-attr-timestamp", "Resource timestamps",
     "Adds created_at and updated_at fields to all Neutron resources that have Neutron "
     "standard attributes."),
    ("trunk", "Trunk Extension", "Provides support for trunk ports"),
    ("trunk-details", "Trunk port details", "Expose trunk port details"),
]

UPDATED = {"agent": "2013-02-03T10:00:00-00:00", "extra_dhcp_opt": "2013-03-17T12:00:00-00:00",
           "trunk": "2016-01-01T10:00:00-00:00",
           "trunk-details": "2016-01-01T10:00:00-00:00"}


def all_extensions():
    return [{"alias": alias, "name": name, "description": desc,
             "updated": UPDATED.get(alias, _UPDATED), "links": []}
            for alias, name, desc in EXTENSIONS]


def find(alias):
    return next((e for e in all_extensions() if e["alias"] == alias), None)
