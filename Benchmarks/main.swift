import TollgateCore
print("bench")
