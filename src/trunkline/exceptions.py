"""Neutron's exception hierarchy: every error trunkline raises, and the HTTP code its base class implies.

The API layer turns any of these into ``{"NeutronError": {"type", "message", "detail"}}`` with
``type`` = the class name, exactly as Neutron does; the base class alone decides the status code
(neutron-lib's FAULT_MAP), so adding an error is one small class here. A resource's own
NotFound lives with its definition (definitions/).
"""


class NeutronError(Exception):
    code = 500
    message = "An unknown exception occurred."

    def __init__(self, message=None, **kwargs):
        self.kwargs = kwargs
        self.msg = message if message is not None else self.message % kwargs
        super().__init__(self.msg)

    @property
    def type(self):
        return type(self).__name__

    def body(self):
        """The answer's JSON body."""
        return {"NeutronError": {"type": self.type, "message": self.msg, "detail": ""}}


class BadRequest(NeutronError):
    code = 400
    message = "Bad %(resource)s request: %(msg)s."


class NotFound(NeutronError):
    code = 404
    message = "An unknown exception occurred."


class Conflict(NeutronError):
    code = 409
    message = "An unknown exception occurred."


class InUse(Conflict):
    message = "The resource is in use."


class PreconditionFailed(NeutronError):
    code = 412
    message = "Precondition failed."


class RequestTooLarge(NeutronError):
    code = 413
    message = "Request is too large."


class NotAuthorized(NeutronError):
    code = 403
    message = "Not authorized."


class ServiceUnavailable(NeutronError):
    code = 503
    message = "The service is unavailable."


# -- HTTP-level errors raised by the API layer (Neutron answers these with webob's class names)

class HTTPBadRequest(BadRequest):
    def __init__(self, message):
        super().__init__(message)


class HTTPRequestURITooLong(NeutronError):
    code = 414

    def __init__(self, message):
        super().__init__(message)


class HTTPNotFound(NotFound):
    def __init__(self, message="The resource could not be found."):
        super().__init__(message)


class HTTPMethodNotAllowed(NeutronError):
    code = 405

    def __init__(self, message="The server could not comply with the request since it is "
                               "either malformed or otherwise incorrect."):
        super().__init__(message)


class HTTPUnauthorized(NeutronError):
    """No valid token (keystonemiddleware's answer, in Neutron's body)."""
    code = 401
    message = "The request you have made requires authentication."


class HTTPServiceUnavailable(ServiceUnavailable):
    pass


class HTTPForbidden(NotAuthorized):
    def __init__(self, message):
        super().__init__(message)


class PolicyNotAuthorized(NotAuthorized):
    """oslo.policy's refusal, as Neutron answers it."""
    message = "%(rule)s is disallowed by policy"


class InvalidInput(BadRequest):
    message = "Invalid input for operation: %(error_message)s."


class RevisionNumberConstraintFailed(PreconditionFailed):
    message = "Constrained to %(expected)s, but current revision is %(current)s"


class TagNotFound(NotFound):
    message = "Tag %(tag)s could not be found."


# -- core resources

class NetworkInUse(InUse):
    message = ("Unable to complete operation on network %(net_id)s. There are one or more "
               "ports still in use on the network, id for these ports is: %(port_ids)s.")


class SubnetInUse(InUse):
    message = ("Unable to complete operation on subnet %(subnet_id)s: "
               "One or more ports have an IP allocation from this subnet.")


class PortInUse(InUse):
    message = ("Unable to complete operation on port %(port_id)s for network %(net_id)s. "
               "Port already has an attached device %(device_id)s.")


class NeutronDbObjectDuplicateEntry(Conflict):
    """Neutron's words when an object's unique constraint refuses a row; for extra DHCP
    options it prints the values as None."""
    message = ("Failed to create a duplicate %(object_type)s: for attribute(s) "
               "%(attributes)s with value(s) None")


class MacAddressInUse(InUse):
    message = ("Unable to complete operation for network %(net_id)s. "
               "The mac address %(mac)s is in use.")


class IpAddressAlreadyAllocated(Conflict):
    message = "IP address %(ip)s already allocated in subnet %(subnet_id)s"


class AllowedAddressPairsMissingIP(BadRequest):
    message = "AllowedAddressPair must contain ip_address"


class AddressPairAndPortSecurityRequired(Conflict):
    message = "Port Security must be enabled in order to have allowed address pairs on a port."


class NetworkMTUSubnetConflict(Conflict):
    message = "MTU of %(net_id)s is not valid, subnet requires a minimum of %(mtu)s"


class IpAddressGenerationFailure(Conflict):
    message = "No more IP addresses available on network %(net_id)s."


class InvalidIpForNetwork(BadRequest):
    message = "IP address %(ip_address)s is not a valid IP for any of the subnets on the specified network."


class InvalidIpForSubnet(BadRequest):
    message = "IP address %(ip_address)s is not a valid IP for the specified subnet."


class InvalidAllocationPool(BadRequest):
    message = "The allocation pool %(pool)s is not valid."


class OverlappingAllocationPools(Conflict):
    message = "Found overlapping allocation pools: %(pool_1)s %(pool_2)s for subnet %(subnet_cidr)s."


class OutOfBoundsAllocationPool(BadRequest):
    message = "The allocation pool %(pool)s spans beyond the subnet cidr %(subnet_cidr)s."


class GatewayConflictWithAllocationPools(InUse):
    message = "Gateway ip %(ip_address)s conflicts with allocation pool %(pool)s."


class NoNetworkAvailable(ServiceUnavailable):
    message = "Unable to create the network. No tenant network is available for allocation."


class VlanIdInUse(InUse):
    message = ("Unable to create the network. The VLAN %(vlan_id)s on physical network "
               "%(physical_network)s is in use.")


class TunnelIdInUse(InUse):
    message = "Unable to create the network. The tunnel ID %(tunnel_id)s is in use."


class PortBound(InUse):
    message = ("Unable to complete operation on port %(port_id)s, port is already bound, "
               "port type: %(vif_type)s, old_mac %(old_mac)s, new_mac %(new_mac)s.")


# -- port bindings (binding-extended)

class PortBindingNotFound(NotFound):
    message = "Binding for port %(port_id)s for host %(host)s could not be found."


class PortBindingAlreadyActive(Conflict):
    message = "Binding for port %(port_id)s on host %(host)s is already active."


class PortBindingAlreadyExists(Conflict):
    message = "Binding for port %(port_id)s on host %(host)s already exists."


class PortBindingError(NeutronError):
    message = "Binding for port %(port_id)s on host %(host)s could not be created or updated."


# -- trunks (these live in neutron.services.trunk.exceptions upstream)

class TrunkPortInUse(InUse):
    message = "Port %(port_id)s is in use by another trunk."


class SubPortNotFound(NotFound):
    message = "SubPort %(port_id)s on trunk %(trunk_id)s could not be found."


class DuplicateSubPort(InUse):
    message = ("segmentation_type %(segmentation_type)s and segmentation_id %(segmentation_id)s "
               "already in use on trunk %(trunk_id)s.")


class ParentPortInUse(InUse):
    message = "Port %(port_id)s is currently in use and is not eligible for use as a parent port."


class SubPortMtuGreaterThanTrunkPortMtu(Conflict):
    message = ("MTU %(port_mtu)s of subport %(port_id)s cannot be greater than "
               "MTU %(trunk_mtu)s of trunk %(trunk_id)s.")


class PortInUseAsTrunkParent(InUse):
    message = "Port %(port_id)s is currently a parent port for trunk %(trunk_id)s."


class PortInUseAsSubPort(InUse):
    message = "Port %(port_id)s is currently a subport for trunk %(trunk_id)s."


class TrunkInUse(InUse):
    message = "Trunk %(trunk_id)s is currently in use."


class TrunkDisabled(Conflict):
    message = "Trunk %(trunk_id)s is currently disabled."


class TrunkInErrorState(Conflict):
    message = ("Trunk %(trunk_id)s is in error state. "
               "Attempt to resolve the error condition before proceeding.")


# -- security groups (neutron/extensions/securitygroup.py, security_groups_default_rules.py,
# neutron-lib's port_security exceptions)

class InvalidCIDR(BadRequest):
    message = "Invalid CIDR %(input)s given as IP prefix."


class SecurityGroupInvalidPortRange(InvalidInput):
    message = "For TCP/UDP protocols, port_range_min must be <= port_range_max"


class SecurityGroupInvalidProtocolForPort(InvalidInput):
    message = ("Ports cannot be specified for protocol %(protocol)s. "
               "Ports are only supported for %(valid_port_protocols)s.")


class SecurityGroupInvalidPortValue(InvalidInput):
    message = "Invalid value for port %(port)s"


class SecurityGroupInvalidIcmpValue(InvalidInput):
    message = "Invalid value for ICMP %(field)s (%(attr)s) %(value)s. It must be 0 to 255."


class SecurityGroupEthertypeConflictWithProtocol(InvalidInput):
    message = "Invalid ethertype %(ethertype)s for protocol %(protocol)s."


class SecurityGroupMissingIcmpType(InvalidInput):
    message = ("ICMP code (port-range-max) %(value)s is provided but ICMP type "
               "(port-range-min) is missing.")


class SecurityGroupInUse(InUse):
    message = "Security Group %(id)s %(reason)s."

    def __init__(self, **kwargs):
        kwargs.setdefault("reason", "in use")
        super().__init__(**kwargs)


class SecurityGroupCannotRemoveDefault(InUse):
    message = "Insufficient rights for removing default security group."


class SecurityGroupCannotUpdateDefault(InUse):
    message = "Updating default security group not allowed."


class SecurityGroupDefaultAlreadyExists(InUse):
    message = "Default security group already exists."


class SecurityGroupRuleInvalidProtocol(InvalidInput):
    message = ("Security group rule protocol %(protocol)s not supported. Only protocol values "
               "%(values)s and integer representations [0 to 255] are supported.")


class SecurityGroupRulesNotSingleProject(InvalidInput):
    message = "Multiple project_ids in bulk security group rule create not allowed"


class SecurityGroupMultipleRemoteEntites(InvalidInput):
    message = ("Only one of remote_ip_prefix or remote_group_id or remote_address_group_id "
               "may be provided.")


class SecurityGroupProtocolRequiredWithPorts(InvalidInput):
    message = "Must also specify protocol if port range is given."


class SecurityGroupNotSingleGroupRules(InvalidInput):
    message = "Only allowed to update rules for one security profile at a time"


class DuplicateSecurityGroupRuleInPost(InUse):
    message = "Duplicate Security Group Rule in POST."


class SecurityGroupRuleExists(InUse):
    message = "Security group rule already exists. Rule id is %(rule_id)s."


class SecurityGroupRuleParameterConflict(InvalidInput):
    message = "Conflicting value ethertype %(ethertype)s for CIDR %(cidr)s"


class SecurityGroupConflict(Conflict):
    message = "Error %(reason)s while attempting the operation."


class SecurityGroupRuleInvalidEtherType(InvalidInput):
    message = ("Security group rule for ethertype '%(ethertype)s' not supported. Allowed values "
               "are %(values)s.")


class DefaultSecurityGroupRuleExists(InUse):
    message = "Default Security group rule already exists. Rule id is %(rule_id)s."


class DuplicateDefaultSgRuleInPost(InUse):
    message = "Duplicate Default Security Group Rule in POST."


class PortSecurityPortHasSecurityGroup(InUse):
    message = ("Port has security group associated. Cannot disable port security or IP address "
               "until security group is removed.")


class PortSecurityAndIPRequiredForSecurityGroups(InvalidInput):
    message = ("Port security must be enabled and port must have an IP address in order to use "
               "security groups.")


# -- agents

class AgentAlive(Conflict):
    message = "Agent %(id)s is alive; only an agent that stopped reporting can be deleted."


class ChangesPruned(NeutronError):
    code = 410
    message = ("The change log no longer goes back to revision %(since)s (kept after "
               "%(horizon)s); read the host state again.")


# -- quotas

class OverQuota(Conflict):
    message = "Quota exceeded for resources: %(overs)s."


class TenantQuotaNotFound(NotFound):
    message = "Quota for project %(tenant_id)s could not be found."


class AdminRequired(NotAuthorized):
    message = "User does not have admin privileges: %(reason)s."


class HTTPNotImplemented(NeutronError):
    code = 501

    def __init__(self, message):
        super().__init__(message)
