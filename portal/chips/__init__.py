"""The card chip: reader interface, the virtual reader, and read (卡内信息查询), sync (同步卡数据)
and load (资金圈存) services. Money moves only through `portal.ledger`."""
