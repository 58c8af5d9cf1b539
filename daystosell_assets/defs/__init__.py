"""Assets by stage of the flow, each module with the checks that guard its assets."""
