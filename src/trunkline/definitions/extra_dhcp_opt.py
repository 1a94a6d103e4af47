"""extra_dhcp_opt: DHCP options per port (PXE boot and the like), served by the DHCP agent."""
from trunkline.definitions import validators as v
from trunkline.definitions.base import Attr, Extension

EXTENSIONS = (Extension(
    "extra_dhcp_opt", "Neutron Extra DHCP options",
    "Extra options configuration for DHCP. For example PXE boot options to DHCP clients can "
    "be specified (e.g. tftp-server, server-ip-address, bootfile-name)",
    updated="2013-03-17T12:00:00-00:00",
    # None on create is no option, on update no change
    attributes={"port": {"extra_dhcp_opts": Attr(post=True, put=True, default=None,
                                                 convert=v.to_extra_dhcp_opts)}}),)
