x = []
while True:
    x.append(bytearray(8 << 20))
