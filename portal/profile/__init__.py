"""Customer profile pages (客户资料维护): the fleet admin's contacts and invoice details; support staff
of the customer's region may also correct the legal name and credit code."""
